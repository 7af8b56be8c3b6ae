#version 330 core
// Audio-reactive background: domain-warped value noise (3 octaves), valence hue,
// arousal speed/contrast, onset/beat pulse, bass radial glow. Cheap enough for llvmpipe.
// Preset parameters: u_contrast, u_glow (multipliers, 1 = as designed); u_halo in [-1, 1]: a soft
// ellipse behind the face (the picture's centre) lightened towards the palette's brightest colour
// (> 0) or darkened (< 0), so the face's silhouette reads; u_frame in [0, 1]: the layer becomes
// transparent in a centre ellipse of that size, a moving frame around a layer below it (0: opaque
// everywhere); the preset's palette (u_palette[0..u_palette_n-1], a colour gradient in the
// preset's order; none: the mood palette).
in vec2 v_uv;
uniform float u_time;
uniform float u_flow;        // onset- and arousal-paced flow clock (BackgroundLayer.advance_flow)
uniform float u_hit;         // the newest hop's hit, fading (BackgroundLayer.advance_flow), [0, 1]
uniform vec2 u_resolution;
uniform float u_rms, u_bass, u_mid, u_high, u_onset, u_beat_phase;
uniform float u_valence, u_arousal, u_energy;
uniform float u_contrast = 1.0;
uniform float u_glow = 1.0;
uniform float u_halo = 0.0;
uniform float u_frame = 0.0;
const int MAX_PALETTE = 8;
uniform vec3 u_palette[MAX_PALETTE];
uniform int u_palette_n = 0;
out vec4 f_color;

float hash(vec2 p) {
    p = fract(p * vec2(123.34, 456.21));
    p += dot(p, p + 45.32);
    return fract(p.x * p.y);
}

float noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash(i), hash(i + vec2(1, 0)), u.x),
               mix(hash(i + vec2(0, 1)), hash(i + vec2(1, 1)), u.x), u.y);
}

float fbm(vec2 p) {
    float v = 0.0, a = 0.5;
    const mat2 rot = mat2(0.8, -0.6, 0.6, 0.8);
    for (int i = 0; i < 3; i++) {
        v += a * noise(p);
        p = rot * p * 2.03 + 17.1;
        a *= 0.5;
    }
    return v / 0.875;
}

vec3 mood(float x, float val) {
    // cold (val -1): deep navy -> violet -> cyan; warm (val +1): crimson -> orange -> yellow
    vec3 c0 = mix(vec3(0.02, 0.02, 0.10), vec3(0.18, 0.02, 0.04), val);
    vec3 c1 = mix(vec3(0.25, 0.08, 0.55), vec3(0.95, 0.35, 0.05), val);
    vec3 c2 = mix(vec3(0.20, 0.65, 1.00), vec3(1.00, 0.85, 0.25), val);
    return x < 0.5 ? mix(c0, c1, x * 2.0) : mix(c1, c2, x * 2.0 - 1.0);
}

vec3 brightest(float val) {
    // the palette's colour of highest luminance (BT.709 weights); none: the mood palette's top
    if (u_palette_n <= 0) return mood(1.0, val);
    vec3 best = u_palette[0];
    for (int i = 1; i < MAX_PALETTE; i++) {
        if (i < u_palette_n && dot(u_palette[i], vec3(0.2126, 0.7152, 0.0722)) > dot(best, vec3(0.2126, 0.7152, 0.0722)))
            best = u_palette[i];
    }
    return best;
}

vec3 palette(float x, float val) {
    // the preset's colours as a gradient, walked a little further with valence; a fifth of the
    // mood palette keeps the music's emotion readable in any preset's colours
    if (u_palette_n <= 0) return mood(x, val);
    if (u_palette_n == 1) return mix(u_palette[0] * x, mood(x, val), 0.2);
    float f = clamp(x + 0.3 * (val - 0.5), 0.0, 1.0) * float(u_palette_n - 1);
    int k = min(int(f), u_palette_n - 2);
    return mix(mix(u_palette[k], u_palette[k + 1], f - float(k)), mood(x, val), 0.2);
}

void main() {
    vec2 p = (gl_FragCoord.xy - 0.5 * u_resolution) / u_resolution.y;   // aspect-correct
    float ar = clamp(u_arousal * 0.5 + 0.5, 0.0, 1.0);                  // 0 calm .. 1 excited
    float val = clamp(u_valence * 0.5 + 0.5, 0.0, 1.0);                 // 0 sad .. 1 happy
    float t = u_flow;   // its speed follows arousal, integrated on the CPU: no jump when arousal moves

    vec2 q = p * 2.2;
    vec2 w = vec2(fbm(q + vec2(0.0, t)), fbm(q + vec2(5.2, 1.3) - vec2(t * 0.7, 0.0)));
    float n = fbm(q + (1.5 + 1.5 * u_mid) * w + vec2(t * 0.3, -t * 0.2));

    float contrast = mix(0.8, 2.2, ar) * u_contrast;
    n = clamp((n - 0.5) * contrast + 0.5, 0.0, 1.0);

    float beat = exp(-6.0 * u_beat_phase) * step(0.001, u_rms + u_onset);
    // the tempo grid only a touch. No flash on the hits: a flash's fade-out lands after the 0.1 s
    // that follow an onset and halved the onset-change ratio (issue 14); the hits move the picture
    // by steps (the flow kick, the held levels). u_hit stays for custom shaders.
    float pulse = 0.05 * beat;

    vec3 col = palette(n, val);
    col *= 0.55 + 0.45 * w.x + pulse;

    float r = length(p);
    float glow = exp(-r * r * mix(9.0, 3.0, u_bass)) * (0.15 + 0.85 * u_bass);
    col += glow * palette(0.85, val) * 0.6 * u_glow;

    // shimmer from highs along the warped field's ridges
    col += u_high * 0.25 * smoothstep(0.45, 0.5, abs(fract(n * 4.0 + t) - 0.5)) * palette(1.0, val);

    col *= 1.0 - 0.35 * r * r;   // vignette

    vec2 e = p / vec2(0.42, 0.5);  // the face's neighbourhood: its silhouette lies near e = 1
    float halo = 1.0 - smoothstep(0.9, 1.7, length(e));  // full strength across the silhouette
    float h = clamp(u_halo, -1.0, 1.0) * halo;
    if (h > 0.0) col = mix(col, mix(brightest(val), vec3(1.0), 0.5), h);
    else if (h < 0.0) col *= 1.0 + h;

    float alpha = u_frame > 0.0 ? smoothstep(1.0 - u_frame, 1.35 - u_frame, length(vec2(p.x * 0.7, p.y)) * 2.0)
                                : 1.0;
    f_color = vec4(clamp(col, 0.0, 1.0), alpha);
}
