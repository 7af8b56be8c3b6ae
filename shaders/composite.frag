#version 330 core
// Blend one layer (straight alpha) onto the accumulated picture; exact per-pixel formulas.
uniform sampler2D u_src;   // layer colour, straight alpha
uniform sampler2D u_dst;   // accumulated picture so far
uniform float u_opacity;   // [0, 1]
uniform int u_mode;        // 0 normal, 1 add, 2 screen, 3 multiply
out vec4 f_color;

void main() {
    ivec2 px = ivec2(gl_FragCoord.xy);
    vec4 src = texelFetch(u_src, px, 0);
    vec3 dst = texelFetch(u_dst, px, 0).rgb;
    float a = clamp(src.a * u_opacity, 0.0, 1.0);
    vec3 outc;
    if (u_mode == 1) {
        outc = dst + src.rgb * a;
    } else if (u_mode == 2) {
        outc = 1.0 - (1.0 - dst) * (1.0 - src.rgb * a);
    } else if (u_mode == 3) {
        outc = mix(dst, dst * src.rgb, a);
    } else {
        outc = mix(dst, src.rgb, a);
    }
    f_color = vec4(clamp(outc, 0.0, 1.0), 1.0);
}
