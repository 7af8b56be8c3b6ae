#version 330 core
// Portrait mode: samples the photo; the mouth interior darkens as the mouth opens wider than
// in the photo (u_mouth_dark in [0, 1]).
in vec2 v_uv;
uniform sampler2D u_photo;
uniform int u_material;      // 0 photo/skin, 4 mouth interior
uniform float u_mouth_dark;
out vec4 f_color;
void main() {
    vec3 c = texture(u_photo, v_uv).rgb;
    if (u_material == 4) c = mix(c, vec3(0.10, 0.02, 0.03), u_mouth_dark);
    f_color = vec4(c, 1.0);
}
