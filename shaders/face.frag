#version 330 core
// Stylised cartoon face from signed distance fields, driven by 17 action units.
// Face space: origin at frame centre, y up, 1 unit = frame height (aspect-correct).
// u_aus order: AU01 AU02 AU04 AU05 AU06 AU07 AU09 AU10 AU12 AU14 AU15 AU17 AU20 AU23 AU25 AU26 AU45
in vec2 v_uv;
uniform float u_time;
uniform vec2 u_resolution;
uniform float u_aus[17];
uniform float u_valence, u_arousal, u_onset;
uniform float u_scale;          // face size multiplier (1 = about 60 % of the frame height)
uniform float u_outline_scale;  // outline width multiplier (1 = default)
out vec4 f_color;

#define AU1  u_aus[0]
#define AU2  u_aus[1]
#define AU4  u_aus[2]
#define AU5  u_aus[3]
#define AU6  u_aus[4]
#define AU7  u_aus[5]
#define AU9  u_aus[6]
#define AU10 u_aus[7]
#define AU12 u_aus[8]
#define AU14 u_aus[9]
#define AU15 u_aus[10]
#define AU17 u_aus[11]
#define AU20 u_aus[12]
#define AU23 u_aus[13]
#define AU25 u_aus[14]
#define AU26 u_aus[15]
#define AU45 u_aus[16]

const vec3 INK = vec3(0.06, 0.03, 0.07);
float AA;

float cover(float d) { return 1.0 - smoothstep(-AA, AA, d); }
float stroke(float d, float w) { return cover(abs(d) - w); }

float sdEllipse(vec2 q, vec2 r) {  // approximate, good for moderate eccentricity
    float k = length(q / r);
    return (k - 1.0) * min(r.x, r.y);
}

float sdSegment(vec2 q, vec2 a, vec2 b) {
    vec2 pa = q - a, ba = b - a;
    float h = clamp(dot(pa, ba) / dot(ba, ba), 0.0, 1.0);
    return length(pa - ba * h);
}

// Curve from a to b (a.x < b.x) bowed by `bulge` at its middle (parabolic).
// Returns (signed vertical offset of q above the curve, approximate distance to the curve).
vec2 curve(vec2 q, vec2 a, vec2 b, float bulge) {
    float span = b.x - a.x;
    float u = (q.x - a.x) / span;
    float f = mix(a.y, b.y, u) + bulge * 4.0 * u * (1.0 - u);
    float df = (b.y - a.y) / span + bulge * 4.0 * (1.0 - 2.0 * u) / span;
    float dv = (q.y - f) / sqrt(1.0 + df * df);
    float dist = (u >= 0.0 && u <= 1.0) ? abs(dv) : 1e3;
    dist = min(dist, min(length(q - a), length(q - b)));
    return vec2(q.y - f, dist);
}

// Lens between an upper and a lower curve sharing corners (-w, c) and (w, c);
// their middles sit at c + up and c + lo. Returns signed distance (< 0 inside).
float lens(vec2 q, float w, float c, float up, float lo, out vec2 cu, out vec2 cl) {
    cu = curve(q, vec2(-w, c), vec2(w, c), up);
    cl = curve(q, vec2(-w, c), vec2(w, c), lo);
    bool inside = abs(q.x) < w && cu.x < 0.0 && cl.x > 0.0;
    float d = min(cu.y, cl.y);
    return inside ? -d : d;
}

void main() {
    AA = 1.0 / u_resolution.y;
    vec2 p = (gl_FragCoord.xy - 0.5 * u_resolution) / u_resolution.y / max(u_scale, 0.05);
    AA /= max(u_scale, 0.05);

    // idle sway (zero at t = 0), a little livelier with arousal
    float sw = 1.0 + 0.5 * clamp(u_arousal, 0.0, 1.0);
    float ang = 0.045 * sin(u_time * 0.8 * sw);
    p -= vec2(0.012 * sin(u_time * 0.5 * sw), 0.006 * sin(u_time * 1.3 * sw) - 0.01);
    p = mat2(cos(ang), sin(ang), -sin(ang), cos(ang)) * p;

    if (abs(p.x) > 0.32 || abs(p.y) > 0.40) { f_color = vec4(0.0); return; }   // cheap outside the head

    float val = clamp(u_valence, -1.0, 1.0);
    vec3 skin = mix(vec3(0.93, 0.83, 0.80), vec3(1.00, 0.80, 0.58), 0.5 + 0.5 * val);
    vec3 hairc = vec3(0.16, 0.08, 0.10);
    float OL = 0.010 * max(u_outline_scale, 0.0);   // outline half-width

    // ---- head, ears, hair ----
    float jaw = 0.30 + 0.035 * AU26 - 0.01 * AU17;
    vec2 hq = p;
    hq.x *= 1.0 + 0.45 * max(-p.y, 0.0);                     // taper toward the chin
    float dHead = sdEllipse(hq, vec2(0.235, p.y < 0.0 ? jaw : 0.30));
    vec2 eq = vec2(abs(p.x) - 0.232, p.y - 0.015);
    float dEar = sdEllipse(eq, vec2(0.038, 0.058));
    float hairline = 0.188 + 0.10 * (p.x * p.x) / 0.05 - 0.018 * abs(sin(p.x * 22.0));
    float dHairOut = sdEllipse(p - vec2(0.0, 0.015), vec2(0.25, 0.30));
    float dHair = max(dHairOut, hairline - p.y);
    float dAll = min(min(dHead, dEar), dHair);

    vec3 col = skin;
    col = mix(col, skin * 0.88, cover(dEar) * (1.0 - cover(dHead)));
    col = mix(col, INK, stroke(curve(eq, vec2(-0.012, 0.02), vec2(0.012, -0.025), 0.012).y, OL * 0.35) * (1.0 - cover(dHead)));
    col = mix(col, INK, stroke(dEar, OL) * (1.0 - cover(dHead)));
    col = mix(col, INK, stroke(dHead, OL * 1.2));
    col = mix(col, hairc, cover(dHair));
    col = mix(col, INK, stroke(dHair, OL));

    // ---- cheeks: blush + crinkle (AU6) ----
    vec2 cq = vec2(abs(p.x) - 0.135, p.y + 0.055 - 0.012 * AU6 - 0.01 * AU12);
    float blush = clamp(0.55 * AU6 + 0.25 * AU12 + 0.2 * max(val, 0.0), 0.0, 0.8);
    col = mix(col, vec3(1.0, 0.45, 0.48), blush * cover(sdEllipse(cq, vec2(0.045, 0.025))) * 0.8);

    // ---- eyes ----
    vec2 e = vec2(abs(p.x) - 0.088, p.y - 0.04);
    float ew = 0.055 + 0.004 * AU5 + 0.004 * AU20;
    float lo = -0.022 * (1.0 - 0.55 * AU6 - 0.45 * AU7);               // lower lid (raised by AU6/AU7)
    float up = 0.044 * max(1.0 + 0.45 * AU5 - 0.35 * AU7 - 0.2 * AU6 - 0.15 * AU4, 0.15);
    up = mix(up, lo, clamp(AU45, 0.0, 1.0));                            // blink: upper lid meets lower
    vec2 cu, cl;
    float dEye = lens(e, ew, 0.0, up, lo, cu, cl);
    float openAmt = max(up - lo, 0.0);
    col = mix(col, vec3(1.0), cover(dEye));
    vec2 ic = vec2(0.0, 0.5 * (up + lo) * 0.6);
    float dIris = max(length(e - ic) - 0.025, dEye);
    col = mix(col, mix(vec3(0.15, 0.35, 0.65), vec3(0.35, 0.2, 0.08), 0.5 + 0.5 * val), cover(dIris));
    col = mix(col, INK, cover(max(length(e - ic) - 0.0125 - 0.003 * AU5, dEye)));
    col = mix(col, vec3(1.0), cover(max(length(e - ic - vec2(0.008, 0.009)) - 0.0055, dEye)));
    col = mix(col, INK, stroke(cl.y, OL * 0.7) * step(abs(e.x), ew + 0.01));
    col = mix(col, INK, stroke(cu.y, OL * 1.15) * step(abs(e.x), ew + 0.01));   // bold upper lid
    // lashes at the outer corner (mirrored per side)
    col = mix(col, INK, stroke(sdSegment(e, vec2(ew - 0.004, up * 0.25), vec2(ew + 0.018, up * 0.25 + 0.016)), OL * 0.55));
    // crinkle under the eye and crow's feet (AU6)
    vec2 ck = curve(e, vec2(-ew * 0.7, lo - 0.02), vec2(ew * 0.7, lo - 0.02), -0.010);
    col = mix(col, INK, stroke(ck.y, OL * 0.5) * clamp(AU6 * 1.5, 0.0, 1.0));
    float crow = min(sdSegment(e, vec2(ew + 0.012, 0.004), vec2(ew + 0.030, 0.012)),
                     sdSegment(e, vec2(ew + 0.012, -0.006), vec2(ew + 0.030, -0.014)));
    col = mix(col, INK, stroke(crow, OL * 0.4) * clamp(AU6 * 1.5 - 0.3, 0.0, 1.0));

    // ---- brows: AU1 inner up, AU2 outer up, AU4 down and together ----
    vec2 b = vec2(abs(p.x), p.y);
    float baseY = 0.105 + 0.010 * AU5;
    vec2 bin = vec2(0.038 - 0.012 * AU4, baseY + 0.042 * AU1 - 0.040 * AU4 + 0.005 * AU2);
    vec2 bout = vec2(0.145, baseY + 0.040 * AU2 - 0.012 * AU4 - 0.004 * AU1);
    float bb = 0.014 - 0.012 * AU4 + 0.006 * AU2 - 0.008 * AU1 * (1.0 - AU2);
    vec2 bc = curve(b, bin, bout, bb);
    float bu = clamp((b.x - bin.x) / (bout.x - bin.x), 0.0, 1.0);
    float bthick = mix(0.012, 0.007, bu) * (1.0 + 0.25 * AU4);
    col = mix(col, hairc * 0.6, cover(bc.y - bthick));

    // ---- nose (AU9 wrinkle & lift) ----
    vec2 nq = p - vec2(0.0, -0.045 + 0.008 * AU9);
    float nw = 0.026 * (1.0 + 0.2 * AU9);
    vec2 nb = curve(nq, vec2(-nw, 0.004), vec2(nw, 0.004), -0.02);
    col = mix(col, INK, stroke(nb.y, OL * 0.8) * step(nq.y, 0.01));
    float nostril = min(length((nq - vec2(0.013, -0.004)) * vec2(1.0, 1.6)), length((nq - vec2(-0.013, -0.004)) * vec2(1.0, 1.6))) - 0.004;
    col = mix(col, INK, cover(nostril) * 0.8);
    float wr = 1e3;
    for (int i = 0; i < 3; i++) {
        float y = 0.03 - 0.011 * float(i);
        float hw = 0.012 - 0.002 * float(i);
        wr = min(wr, curve(p, vec2(-hw, y + 0.003), vec2(hw, y + 0.003), -0.004).y);
    }
    col = mix(col, INK, stroke(wr, OL * 0.35) * clamp(AU9 * 1.5 - 0.1, 0.0, 1.0));

    // ---- mouth ----
    float y0 = -0.135 + 0.008 * AU17 + 0.006 * AU10;
    float mw = 0.072 + 0.032 * AU20 - 0.026 * AU23 + 0.016 * AU12 - 0.006 * AU14 - 0.004 * AU15;
    float c = 0.040 * AU12 - 0.038 * AU15 + 0.010 * AU14 + 0.008 * AU20;          // corners vs middle
    float tight = 1.0 - 0.6 * AU23;
    float mUp = (0.014 * AU10 + 0.008 * AU25 + 0.006 * AU26 + 0.004 * AU9) * tight;
    float mLo = max(0.016 * AU25 + 0.085 * AU26 - 0.012 * AU17, 0.0) * tight;
    vec2 mq = p - vec2(0.0, y0);
    // middles are relative to the corner line at height c
    vec2 mu, ml;
    float dMouth = lens(mq, mw, c, mUp - c, -mLo - c, mu, ml);
    col = mix(col, vec3(0.30, 0.04, 0.08), cover(dMouth));
    float teeth = max(dMouth, -(mu.x + 0.016));                                     // band under upper lip
    col = mix(col, vec3(0.98), cover(teeth) * step(0.012, mUp + mLo));
    float tongue = max(sdEllipse(mq - vec2(0.0, -mLo + 0.006), vec2(mw * 0.5, 0.022)), dMouth);
    col = mix(col, vec3(0.90, 0.35, 0.40), cover(tongue) * step(0.03, mLo));
    float lipw = OL * (1.0 + 0.35 * AU23);
    col = mix(col, INK, stroke(mu.y, lipw));
    col = mix(col, INK, stroke(ml.y, lipw));
    // dimples (AU14) just outside the corners
    vec2 dq = vec2(abs(mq.x) - mw - 0.012, mq.y - c);
    col = mix(col, INK, stroke(sdSegment(dq, vec2(0.0, -0.012), vec2(-0.003, 0.012)), OL * 0.45) * clamp(AU14 * 1.5, 0.0, 1.0));
    // chin boss (AU17)
    vec2 chin = curve(mq, vec2(-0.028, -mLo - 0.05), vec2(0.028, -mLo - 0.05), -0.010);
    col = mix(col, INK, stroke(chin.y, OL * 0.45) * clamp(AU17 * 1.5, 0.0, 1.0));

    col = mix(col, INK, smoothstep(-AA, AA, dAll));   // anything outside the shapes is outline
    float alpha = cover(dAll - OL * 1.2);
    f_color = vec4(col, alpha);
}
