#version 330 core
// One triangle covering the viewport; no vertex buffer needed (uses gl_VertexID). It lies on the
// far plane (depth 1): with the depth test '==' it covers only what no 3D layer drew over.
out vec2 v_uv;

void main() {
    vec2 pos = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2)); // (0,0) (2,0) (0,2)
    v_uv = pos;
    gl_Position = vec4(pos * 2.0 - 1.0, 1.0, 1.0);
}
