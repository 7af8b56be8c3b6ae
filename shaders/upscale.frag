#version 330 core
// A layer rendered at a reduced resolution (premultiplied colour and alpha) drawn over the whole
// viewport, bilinearly filtered, times the layer's opacity (livevis/render/lowres.py).
in vec2 v_uv;
uniform sampler2D u_src;
uniform float u_opacity;   // [0, 1]
out vec4 f_color;

void main() {
    f_color = texture(u_src, v_uv) * u_opacity;
}
