#version 330 core
// Cover-fit an uploaded image (row 0 = top) over the layer; alpha 0 until one is set.
in vec2 v_uv;
uniform sampler2D u_image;
uniform vec2 u_resolution;  // layer size, pixels
uniform vec2 u_image_size;  // image size, pixels
uniform float u_has_image;  // 0 or 1
out vec4 f_color;

void main() {
    if (u_has_image < 0.5) { f_color = vec4(0.0); return; }
    float sa = u_resolution.x / u_resolution.y;
    float ia = u_image_size.x / u_image_size.y;
    vec2 uv = v_uv - 0.5;
    if (sa > ia) uv.y *= ia / sa; else uv.x *= sa / ia;   // crop the longer side (cover)
    uv += 0.5;
    uv.y = 1.0 - uv.y;                                    // numpy rows are top-first
    f_color = texture(u_image, uv);
}
