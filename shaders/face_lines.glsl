// Lines people read (FACS appearance changes): lash lines and AU-weighted wrinkles, shared by
// the 3D face (face3d.frag) and the portrait (face3d_portrait.frag). Included, not compiled
// alone; livevis/face3d/mesh_layer.py:set_line_uniforms sets the uniforms.
// All positions in face units of the AU-deformed mesh:
uniform vec2 u_lid[14];       // upper-lid lines, 7 points per eye (lash line)
uniform vec4 u_fold[2];       // nasolabial folds: (nose wing xy, lip corner xy) per side
uniform vec4 u_lines;         // strengths: forehead middle (AU1), forehead sides (AU2), glabella (AU4), folds (AU12/9/10)
uniform vec2 u_lines2;        // strengths: crow's feet (AU6), nose wrinkles (AU9)
uniform vec4 u_brow_box;      // (brow y, forehead top y, inner brow x, outer eye corner x)
uniform float u_line_width;   // lash line width, face units

float seg_dist(vec2 p, vec2 a, vec2 b) {
    vec2 pa = p - a, ba = b - a;
    float h = clamp(dot(pa, ba) / max(dot(ba, ba), 1e-8), 0.0, 1.0);
    return length(pa - ba * h);
}

// Distance to the upper-lid polyline of the nearer eye (face units, unsigned).
float lid_dist(vec2 p) {
    int base = p.x < 0.0 ? 0 : 7;
    float d = 1e3;
    for (int i = 0; i < 6; ++i) d = min(d, seg_dist(p, u_lid[base + i], u_lid[base + i + 1]));
    return d;
}

// Darkening in [0, 1] from lash lines and AU wrinkles at face-unit position p.
float face_lines(vec2 p, bool eye) {
    float dark = 0.0;
    float w = u_line_width;
    float ax = abs(p.x);
    if (abs(p.y - u_lid[3].y) < 0.06 && ax < abs(u_lid[0].x) + 0.02) {
        float dl = lid_dist(p);
        dark = max(dark, 1.0 - smoothstep(0.4 * w, w, dl));
        if (eye) dark = max(dark, 0.35 * (1.0 - smoothstep(w, 2.0 * w, dl)));  // lid shadow on the eyeball
    }
    if (eye) return dark;
    // forehead lines: AU1 in the middle, AU2 at the sides
    float fy = (p.y - u_brow_box.x) / max(u_brow_box.y - u_brow_box.x, 1e-3);
    if (fy > 0.25 && fy < 0.85) {
        float k = mix(u_lines.x, u_lines.y, smoothstep(0.08, 0.25, ax)) * (1.0 - smoothstep(0.22, 0.36, ax));
        float stripe = smoothstep(0.75, 1.0, sin(fy * 6.2831 * 3.0 + 1.0));
        dark = max(dark, 0.45 * k * stripe);
    }
    // glabellar furrow: vertical lines between the inner brows (AU4)
    if (ax < u_brow_box.z && p.y > u_brow_box.x - 0.10 && p.y < u_brow_box.x + 0.02) {
        float d = abs(ax - 0.025);
        dark = max(dark, 0.6 * u_lines.z * (1.0 - smoothstep(0.002, 0.006, d)));
    }
    // nasolabial folds (AU12, AU9, AU10)
    for (int i = 0; i < 2 && u_lines.w > 0.0 && p.y < u_fold[0].y + 0.03 && p.y > u_fold[0].w - 0.06; ++i) {
        vec2 a = u_fold[i].xy, b = u_fold[i].zw;
        vec2 out_dir = vec2(sign(b.x) * 0.012, 0.0);
        float d = seg_dist(p, a + out_dir * 0.3, b + out_dir * 1.2 + vec2(0.0, -0.01));
        dark = max(dark, 0.55 * u_lines.w * (1.0 - smoothstep(0.002, 0.008, d)));
    }
    // crow's feet (AU6) at the outer eye corners
    vec2 c = vec2(sign(p.x) * u_brow_box.w, u_lid[p.x < 0.0 ? 0 : 7].y - 0.01);
    vec2 q = p - c;
    if (ax > u_brow_box.w + 0.01 && length(q) < 0.07) {
        float ang = atan(q.y, abs(q.x));
        float ray = smoothstep(0.8, 1.0, cos(ang * 9.0)) * (1.0 - smoothstep(0.03, 0.07, length(q)));
        dark = max(dark, 0.5 * u_lines2.x * ray);
    }
    // nose wrinkles (AU9): short lines across the bridge
    if (ax < 0.05 && p.y > u_brow_box.x - 0.20 && p.y < u_brow_box.x - 0.08) {
        float stripe = smoothstep(0.7, 1.0, sin(p.y * 6.2831 / 0.025));
        dark = max(dark, 0.5 * u_lines2.y * stripe * (1.0 - smoothstep(0.02, 0.05, ax)));
    }
    return clamp(dark, 0.0, 1.0);
}

