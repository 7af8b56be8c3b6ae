#version 330 core
// Audio-reactive background: domain-warped value noise (3 octaves), valence hue,
// arousal speed/contrast, onset/beat pulse, bass radial glow. Cheap enough for llvmpipe.
in vec2 v_uv;
uniform float u_time;
uniform float u_flow;        // onset-paced flow clock (BackgroundLayer.advance_flow), seconds
uniform float u_hit;         // the newest hop's hit, fading (BackgroundLayer.advance_flow), [0, 1]
uniform vec2 u_resolution;
uniform float u_rms, u_bass, u_mid, u_high, u_onset, u_beat_phase;
uniform float u_valence, u_arousal, u_energy;
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

vec3 palette(float x, float val) {
    // cold (val -1): deep navy -> violet -> cyan; warm (val +1): crimson -> orange -> yellow
    vec3 c0 = mix(vec3(0.02, 0.02, 0.10), vec3(0.18, 0.02, 0.04), val);
    vec3 c1 = mix(vec3(0.25, 0.08, 0.55), vec3(0.95, 0.35, 0.05), val);
    vec3 c2 = mix(vec3(0.20, 0.65, 1.00), vec3(1.00, 0.85, 0.25), val);
    return x < 0.5 ? mix(c0, c1, x * 2.0) : mix(c1, c2, x * 2.0 - 1.0);
}

void main() {
    vec2 p = (gl_FragCoord.xy - 0.5 * u_resolution) / u_resolution.y;   // aspect-correct
    float ar = clamp(u_arousal * 0.5 + 0.5, 0.0, 1.0);                  // 0 calm .. 1 excited
    float val = clamp(u_valence * 0.5 + 0.5, 0.0, 1.0);                 // 0 sad .. 1 happy
    float speed = mix(0.05, 0.45, ar);
    float t = u_flow * speed;

    vec2 q = p * 2.2;
    vec2 w = vec2(fbm(q + vec2(0.0, t)), fbm(q + vec2(5.2, 1.3) - vec2(t * 0.7, 0.0)));
    float n = fbm(q + (1.5 + 1.5 * u_mid) * w + vec2(t * 0.3, -t * 0.2));

    float contrast = mix(0.8, 2.2, ar);
    n = clamp((n - 0.5) * contrast + 0.5, 0.0, 1.0);

    float beat = exp(-6.0 * u_beat_phase) * step(0.001, u_rms + u_onset);
    float pulse = 0.35 * u_hit + 0.15 * beat;

    vec3 col = palette(n, val);
    col *= 0.55 + 0.45 * w.x + pulse;

    float r = length(p);
    float glow = exp(-r * r * mix(9.0, 3.0, u_bass)) * (0.15 + 0.85 * u_bass);
    col += glow * palette(0.85, val) * 0.6;

    // shimmer from highs along the warped field's ridges
    col += u_high * 0.25 * smoothstep(0.45, 0.5, abs(fract(n * 4.0 + t) - 0.5)) * palette(1.0, val);

    col *= 1.0 - 0.35 * r * r;   // vignette
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
