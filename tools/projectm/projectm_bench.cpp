// projectM offscreen benchmark: renders N frames of projectM 3.x into an EGL pbuffer (OpenGL 3.3
// core, Mesa's llvmpipe on a machine without a GPU) while feeding it PCM from a real track, and
// prints the frame times (renderFrame + glFinish) in milliseconds.
//
//   projectm_bench WIDTH HEIGHT FRAMES FPS PCM_FILE PRESET_DIR [TEXTURE_SIZE [LAST_FRAME.ppm]]
//
// PCM_FILE: raw float32 stereo interleaved samples at 44.1 kHz (tools/bench_projectm.py writes
// it from an audio file). Each frame is fed 44100 / FPS sample frames, as a player would. The
// presets in PRESET_DIR are cycled in playlist order, FRAMES / presets frames each (hard cuts).
// Output: one line per frame "frame <i> <ms>", then "median <ms>".
// Build: g++ -O2 -o projectm_bench projectm_bench.cpp $(pkg-config --cflags --libs libprojectM) -lEGL -lGL
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/gl.h>
#include <libprojectM/projectM.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

static int fail(const char *what) {
    std::fprintf(stderr, "projectm_bench: %s (EGL error 0x%x)\n", what, eglGetError());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s WIDTH HEIGHT FRAMES FPS PCM_FILE PRESET_DIR [TEXTURE_SIZE [LAST.ppm]]\n",
                     argv[0]);
        return 2;
    }
    const int width = std::atoi(argv[1]), height = std::atoi(argv[2]), frames = std::atoi(argv[3]);
    const int fps = std::atoi(argv[4]);
    const int texture = argc > 7 ? std::atoi(argv[7]) : 1024;
    if (width < 1 || height < 1 || frames < 1 || fps < 1) {
        std::fprintf(stderr, "projectm_bench: WIDTH, HEIGHT, FRAMES and FPS must be positive\n");
        return 2;
    }
    std::ifstream in(argv[5], std::ios::binary | std::ios::ate);
    if (!in) {
        std::fprintf(stderr, "projectm_bench: cannot read %s\n", argv[5]);
        return 1;
    }
    std::vector<float> pcm(static_cast<size_t>(in.tellg()) / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char *>(pcm.data()), static_cast<std::streamsize>(pcm.size() * sizeof(float)));
    if (pcm.size() < 2) {
        std::fprintf(stderr, "projectm_bench: %s holds no samples\n", argv[5]);
        return 1;
    }

    // Headless: Mesa's surfaceless platform (pbuffers, no window system), else the default display.
    EGLDisplay dpy = EGL_NO_DISPLAY;
    auto get_platform_display = reinterpret_cast<PFNEGLGETPLATFORMDISPLAYEXTPROC>(
        eglGetProcAddress("eglGetPlatformDisplayEXT"));
    if (get_platform_display != nullptr) {
        dpy = get_platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr);
        if (dpy != EGL_NO_DISPLAY && !eglInitialize(dpy, nullptr, nullptr)) dpy = EGL_NO_DISPLAY;
    }
    if (dpy == EGL_NO_DISPLAY) {
        dpy = eglGetDisplay(EGL_DEFAULT_DISPLAY);
        if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, nullptr, nullptr)) return fail("no EGL display");
    }
    const EGLint cfg_attr[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT,
                               EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8, EGL_ALPHA_SIZE, 8,
                               EGL_DEPTH_SIZE, 24, EGL_NONE};
    EGLConfig cfg;
    EGLint n = 0;
    if (!eglChooseConfig(dpy, cfg_attr, &cfg, 1, &n) || n < 1) return fail("no pbuffer config");
    const EGLint pb_attr[] = {EGL_WIDTH, width, EGL_HEIGHT, height, EGL_NONE};
    EGLSurface surf = eglCreatePbufferSurface(dpy, cfg, pb_attr);
    if (surf == EGL_NO_SURFACE) return fail("cannot create the pbuffer");
    eglBindAPI(EGL_OPENGL_API);
    const EGLint ctx_attr[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 3,
                               EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL_NONE};
    EGLContext ctx = eglCreateContext(dpy, cfg, EGL_NO_CONTEXT, ctx_attr);
    if (ctx == EGL_NO_CONTEXT) return fail("cannot create an OpenGL 3.3 core context");
    if (!eglMakeCurrent(dpy, surf, surf, ctx)) return fail("cannot make the context current");
    std::fprintf(stderr, "renderer: %s\n", reinterpret_cast<const char *>(glGetString(GL_RENDERER)));

    projectM::Settings s;
    s.windowWidth = width;
    s.windowHeight = height;
    s.fps = fps;
    s.textureSize = texture;
    s.meshX = 32;
    s.meshY = 24;
    s.presetURL = argv[6];
    s.datadir = "/usr/share/projectM";
    s.shuffleEnabled = false;
    s.presetDuration = 100000;
    s.smoothPresetDuration = 0;
    s.softCutRatingsEnabled = false;
    projectM pm(s);
    pm.setPresetLock(true);
    pm.projectM_resetGL(width, height);
    const unsigned presets = std::max(1u, pm.getPlaylistSize());
    const int per_preset = std::max(1, frames / static_cast<int>(presets));

    const size_t step = 44100 / fps * 2;  // interleaved floats per video frame
    size_t pos = 0;
    std::vector<double> ms;
    for (int i = 0; i < frames; ++i) {
        if (i % per_preset == 0 && pm.getPlaylistSize() > 0)
            pm.selectPreset(static_cast<unsigned>(i / per_preset) % presets, true);
        if (pos + step > pcm.size()) pos = 0;  // loop the track
        pm.pcm()->addPCMfloat_2ch(pcm.data() + pos, static_cast<int>(step));
        pos += step;
        glFinish();
        auto t0 = std::chrono::steady_clock::now();
        pm.renderFrame();
        glFinish();
        double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ms.push_back(dt);
        std::printf("frame %d %.3f\n", i, dt);
    }
    if (argc > 8) {  // the last frame, to look at
        std::vector<unsigned char> rgb(static_cast<size_t>(width) * height * 3);
        glPixelStorei(GL_PACK_ALIGNMENT, 1);
        glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, rgb.data());
        if (FILE *f = std::fopen(argv[8], "wb")) {
            std::fprintf(f, "P6\n%d %d\n255\n", width, height);
            for (int y = height - 1; y >= 0; --y) std::fwrite(&rgb[static_cast<size_t>(y) * width * 3], 1, width * 3, f);
            std::fclose(f);
        }
    }
    std::vector<double> sorted(ms);
    std::sort(sorted.begin(), sorted.end());
    std::printf("median %.3f\n", sorted[sorted.size() / 2]);
    eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    eglDestroyContext(dpy, ctx);
    eglDestroySurface(dpy, surf);
    eglTerminate(dpy);
    return 0;
}
