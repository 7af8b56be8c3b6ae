#version 330 core
// Blend one layer (straight alpha, in a scratch texture) onto the picture: premultiplied colour
// times opacity, for the GL blend function of the layer's mode (livevis.render.layers.BLEND_FUNCS).
uniform sampler2D u_src;   // layer colour, straight alpha
uniform float u_opacity;   // [0, 1]
uniform ivec2 u_origin;    // pixel of the framebuffer where texel (0, 0) of u_src lands
out vec4 f_color;

void main() {
    vec4 src = clamp(texelFetch(u_src, ivec2(gl_FragCoord.xy) - u_origin, 0), 0.0, 1.0);
    float a = src.a * u_opacity;
    f_color = vec4(src.rgb * a, a);
}
