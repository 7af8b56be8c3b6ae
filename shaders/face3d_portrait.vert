#version 330 core
// Portrait mode: the photo's face mesh, moved by AU deltas, textured with the photo itself.
// in_pos: where the vertex is drawn, photo pixels (x right, y down); in_uv: where it samples
// the photo, in [0, 1] (v down, row 0 = top of the photo); in_face: the vertex in face units of
// the AU-deformed model mesh (where face_lines draws the wrinkles; far away off the face).
in vec2 in_pos;
in vec2 in_uv;
in vec2 in_face;
uniform vec4 u_xform;   // NDC = in_pos * u_xform.xy + u_xform.zw
out vec2 v_uv;
out vec2 v_face;
void main() {
    v_uv = in_uv;
    v_face = in_face;
    gl_Position = vec4(in_pos * u_xform.xy + u_xform.zw, 0.0, 1.0);
}
