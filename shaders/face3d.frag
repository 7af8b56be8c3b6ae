#version 330 core
// Materials and soft lighting of the 3D face; see livevis/face3d/mesh_layer.py.
// Colours arrive linear (the layer converts its sRGB palette); output is sRGB, alpha 1.
in vec3 v_model;
in vec3 v_world;
in vec3 v_normal;

uniform int u_material;       // 0 skin, 1 brow, 2 lips, 3 eye, 4 mouth, 5 outline ink, 6 hair, 7 clothing, 8 head skin
uniform vec3 u_hair;
uniform vec3 u_cloth;
uniform vec3 u_skin;
uniform vec3 u_brow;
uniform vec3 u_lips;
uniform vec3 u_iris;
uniform vec3 u_sclera;
uniform vec3 u_mouth_col;
uniform vec3 u_ink;
uniform vec3 u_rim;
uniform vec3 u_sky;
uniform vec3 u_ground;
uniform vec3 u_key_dir;       // unit, toward the key light (world)
uniform vec3 u_fill_dir;
uniform vec3 u_camera;        // world position of the camera
uniform float u_rim_strength;
uniform vec3 u_iris_c[2];     // iris centres, face units (model space)
uniform float u_iris_r;       // iris radius, face units
uniform vec3 u_mouth;         // inner upper-lip y, inner lower-lip y, teeth fraction
uniform vec4 u_cheeks;        // (x_left, x_right, y, radius) of the blush, face units
uniform float u_blush;        // blush strength [0, 1]
uniform vec3 u_blush_col;
uniform int u_style;          // 0 realistic, 1 bold (flat, high contrast), 2 glow (dark, neon rim and lines)
uniform int u_debug;          // 1: flat material colours (tests measure features by colour)

// PART (a #define, livevis/face3d/mesh_layer.py: PARTS): the materials this program draws, so
// that it holds only their code. A software rasteriser (llvmpipe) runs both sides of a branch,
// so one program for every material shaded each pixel with all of them. 0 or undefined: all.
#ifndef PART
#define PART 0
#endif
#define HAS(part) (PART == 0 || PART == (part))  // 1 skin, 2 eye, 3 mouth interior, 4 plain, 5 ink

#include "face_lines.glsl"

out vec4 f_color;

float aa_step(float edge, float x) {
    float w = max(fwidth(x), 1e-5);
    return smoothstep(edge - w, edge + w, x);
}

void main() {
    if (HAS(5) && u_material == 5) {
        vec3 ink = u_style == 2 ? min(u_rim * 1.6, vec3(1.0)) : u_ink;
        f_color = vec4(pow(ink, vec3(1.0 / 2.2)), 1.0);
        return;
    }
    if (u_debug == 1) {
        const vec3 ids[9] = vec3[9](vec3(0.5), vec3(1, 0, 0), vec3(0, 1, 0), vec3(0, 0, 1), vec3(1, 1, 0),
                                    vec3(0.0), vec3(0.5, 0.0, 0.5), vec3(0.0, 0.5, 0.5), vec3(0.5));
        f_color = vec4(ids[u_material], 1.0);
        return;
    }
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(u_camera - v_world);

    vec3 albedo = u_skin;
    float lines = 0.0;  // darkening by lash lines and wrinkles, applied after lighting
    float spec_k = 0.10;
    float shininess = 24.0;
    if (HAS(1) && u_material == 0) {
        float dl = length((v_model.xy - vec2(u_cheeks.x, u_cheeks.z)) / u_cheeks.w);
        float dr = length((v_model.xy - vec2(u_cheeks.y, u_cheeks.z)) / u_cheeks.w);
        float blush = exp(-dl * dl * 2.0) + exp(-dr * dr * 2.0);
        albedo = mix(albedo, u_blush_col, clamp(blush * u_blush, 0.0, 0.8));
        lines = face_lines(v_model.xy, false);
    } else if (HAS(4) && u_material == 1) {
        albedo = u_brow;
        spec_k = 0.02;
    } else if (HAS(4) && u_material == 2) {
        albedo = u_lips;
        spec_k = 0.35;
        shininess = 40.0;
    } else if (HAS(2) && u_material == 3) {
        // Eye: sclera with iris, pupil and a catchlight; the lids close it by collapsing it.
        float d0 = distance(v_model.xy, u_iris_c[0].xy);
        float d1 = distance(v_model.xy, u_iris_c[1].xy);
        vec2 c = d0 < d1 ? u_iris_c[0].xy : u_iris_c[1].xy;
        vec2 q = (v_model.xy - c) / u_iris_r;
        float r = length(q);
        vec3 iris = u_iris * (0.55 + 0.6 * smoothstep(0.2, 1.0, r));
        albedo = mix(iris, u_sclera, aa_step(1.0, r));
        albedo = mix(vec3(0.01), albedo, aa_step(0.42, r));
        float glint = 1.0 - aa_step(0.22, length(q - vec2(-0.32, 0.36)));
        albedo = mix(albedo, vec3(1.6), glint);
        lines = 0.9 * face_lines(v_model.xy, true);
        spec_k = 0.5;
        shininess = 60.0;
    } else if (HAS(4) && u_material == 8) {
        albedo = u_skin;  // ears, neck, the skull behind the cheeks: no face lines
    } else if (HAS(4) && u_material == 6) {
        albedo = u_hair;
        spec_k = 0.25;
        shininess = 12.0;
    } else if (HAS(4) && u_material == 7) {
        albedo = u_cloth;
        spec_k = 0.03;
    } else if (HAS(3) && u_material == 4) {
        // Mouth interior: teeth under the upper lip, dark throat, tongue at the bottom.
        float open = max(u_mouth.x - u_mouth.y, 1e-4);
        float s = (u_mouth.x - v_model.y) / open;  // 0 at the upper lip, 1 at the lower
        albedo = u_mouth_col;
        albedo = mix(albedo, vec3(0.35, 0.08, 0.09), smoothstep(0.65, 1.0, s));
        albedo = mix(albedo, vec3(0.85, 0.83, 0.78), 1.0 - aa_step(u_mouth.z, s));
        f_color = vec4(pow(albedo, vec3(1.0 / 2.2)), 1.0);
        return;
    }

    float wrap = 0.45;
    float key = max((dot(n, u_key_dir) + wrap) / (1.0 + wrap), 0.0);
    float fill = max(dot(n, u_fill_dir), 0.0);
    vec3 hemi = mix(u_ground, u_sky, 0.5 + 0.5 * n.y);
    float rim = pow(1.0 - max(dot(n, v), 0.0), 2.5);
    vec3 h = normalize(u_key_dir + v);
    float spec = pow(max(dot(n, h), 0.0), shininess) * spec_k;

    vec3 col;
    if (u_style == 1) {
        // bold: two flat tones, no gloss, so shapes and features read from the back of a room
        float lit = smoothstep(0.35, 0.45, key);
        col = albedo * mix(0.62, 1.0, lit) * (0.55 + 0.45 * hemi);
    } else if (u_style == 2) {
        // glow: a dim face lit by a strong coloured rim, for dark club visuals
        col = albedo * (0.3 * hemi + 0.7 * key) + u_rim * pow(1.0 - max(dot(n, v), 0.0), 2.0) * (0.5 + u_rim_strength)
              + vec3(spec);
    } else {
        col = albedo * (0.45 * hemi + 0.85 * key + 0.3 * fill) + u_rim * rim * u_rim_strength + vec3(spec);
    }
    col *= 1.0 - lines;
    col = col / (1.0 + 0.15 * col);  // soft shoulder
    f_color = vec4(pow(clamp(col, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
