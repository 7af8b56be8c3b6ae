#version 330 core
// Crossfade between two pictures and apply the master brightness:
// out = mix(a, b, u_t) * u_gain   (u_t in [0, 1], u_gain >= 0; blackout is u_gain = 0).
in vec2 v_uv;
uniform sampler2D u_a;
uniform sampler2D u_b;
uniform float u_t;
uniform float u_gain;
out vec4 f_color;
void main() {
    vec3 a = texture(u_a, v_uv).rgb;
    vec3 b = texture(u_b, v_uv).rgb;
    f_color = vec4(mix(a, b, u_t) * u_gain, 1.0);
}
