#version 330 core
// Cover-fit an uploaded image (row 0 = top) over the layer; alpha 0 until one is set.
// Sampled with a Catmull-Rom bicubic filter in 5 bilinear taps (Matt Pettineo's 9-tap "Bicubic
// texture filtering" gist without its corner taps, as Jimenez's Filmic SMAA, SIGGRAPH 2016):
// upscaling a 512² decode to the screen stays sharp instead of a bilinear blur.
in vec2 v_uv;
uniform sampler2D u_image;
uniform vec2 u_resolution;  // layer size, pixels
uniform vec2 u_image_size;  // image size, pixels
uniform float u_has_image;  // 0 or 1
out vec4 f_color;

vec4 catmull_rom(sampler2D tex, vec2 uv, vec2 size) {
    vec2 p = uv * size - 0.5;
    vec2 f = fract(p);
    vec2 c = floor(p) + 0.5;                      // texel centre at or left/below of p
    vec2 w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    vec2 w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    vec2 w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    vec2 w3 = f * f * (-0.5 + 0.5 * f);
    vec2 w12 = w1 + w2;
    vec2 t0 = (c - 1.0) / size, t3 = (c + 2.0) / size, t12 = (c + w2 / w12) / size;
    // the four corner taps (weights below 2 %) are left out and the rest renormalised
    float wn = w12.x * w0.y, ww = w0.x * w12.y, wc = w12.x * w12.y, we = w3.x * w12.y, ws = w12.x * w3.y;
    vec4 r = texture(tex, vec2(t12.x, t0.y)) * wn
           + texture(tex, vec2(t0.x, t12.y)) * ww
           + texture(tex, vec2(t12.x, t12.y)) * wc
           + texture(tex, vec2(t3.x, t12.y)) * we
           + texture(tex, vec2(t12.x, t3.y)) * ws;
    return clamp(r / (wn + ww + wc + we + ws), 0.0, 1.0);
}

void main() {
    if (u_has_image < 0.5) { f_color = vec4(0.0); return; }
    float sa = u_resolution.x / u_resolution.y;
    float ia = u_image_size.x / u_image_size.y;
    vec2 uv = v_uv - 0.5;
    if (sa > ia) uv.y *= ia / sa; else uv.x *= sa / ia;   // crop the longer side (cover)
    uv += 0.5;
    uv.y = 1.0 - uv.y;                                    // numpy rows are top-first
    f_color = catmull_rom(u_image, uv, u_image_size);
}
