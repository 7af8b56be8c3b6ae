#version 330 core
// Portrait mode: samples the photo, shaded by the AU wrinkles (face_lines.glsl); the mouth
// interior darkens as the mouth opens wider than in the photo (u_mouth_dark in [0, 1]).
in vec2 v_uv;
in vec2 v_face;
uniform sampler2D u_photo;
uniform int u_material;      // 0 photo/skin, 4 mouth interior
uniform float u_mouth_dark;
uniform float u_line_shade;  // how dark a full-strength wrinkle makes the photo, [0, 1]

#include "face_lines.glsl"

out vec4 f_color;
void main() {
    vec3 c = texture(u_photo, v_uv).rgb;
    if (u_material == 4) c = mix(c, vec3(0.10, 0.02, 0.03), u_mouth_dark);
    else c *= 1.0 - u_line_shade * face_lines(v_face, false);
    f_color = vec4(c, 1.0);
}
