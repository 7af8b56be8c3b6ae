#version 330 core
// 3D face mesh (MediaPipe topology) driven by action units; see livevis/face3d/mesh_layer.py.
// in_pos / in_normal are in face units (x right, y up, z toward the viewer, 1 = face height).
// Outline pass (u_outline_px > 0): the surface is pushed away from the camera by
// u_outline_depth and extruded u_outline_px pixels along its screen-space normal, drawn in ink
// behind the real surface ("inverted hull" without culling; works for the open face mask).
in vec3 in_pos;
in vec3 in_normal;

uniform mat4 u_model;        // head motion: rotation about the neck + small translation
uniform mat4 u_view;
uniform mat4 u_proj;
uniform vec2 u_offset;       // NDC shift of the face on screen
uniform vec2 u_resolution;   // pixels
uniform float u_outline_px;
uniform float u_outline_depth;

out vec3 v_model;   // undeformed-by-head (but AU-deformed) face-unit position
out vec3 v_world;
out vec3 v_normal;

vec4 project(vec4 view_pos) {
    vec4 clip = u_proj * view_pos;
    clip.xy += u_offset * clip.w;
    return clip;
}

void main() {
    vec4 world = u_model * vec4(in_pos, 1.0);
    vec3 n = normalize(mat3(u_model) * in_normal);
    v_model = in_pos;
    v_world = world.xyz;
    v_normal = n;
    vec4 view = u_view * world;
    if (u_outline_px > 0.0) {
        vec4 clip0 = project(view);
        vec4 clip1 = project(u_view * vec4(world.xyz + n * 0.01, 1.0));
        vec2 d = (clip1.xy / clip1.w - clip0.xy / clip0.w) * u_resolution;
        vec2 radial = (clip0.xy / clip0.w - u_offset) * u_resolution;
        vec2 dir = length(d) > 1e-5 ? normalize(d) : normalize(radial + vec2(0.0, 1e-3));
        view.z -= u_outline_depth;
        vec4 clip = project(view);
        clip.xy += dir * (2.0 * u_outline_px / u_resolution) * clip.w;
        gl_Position = clip;
    } else {
        gl_Position = project(view);
    }
}
