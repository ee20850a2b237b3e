/*
 * GL helpers: import into GL, the copy path, semaphores. GL is called only
 * through entry points the caller's proc-address function resolves, kept
 * in the caller's glbridge_gl; no GL header or library is used.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* GL types and enums (from the GL registry), so that no GL header is needed. */
typedef unsigned int GLenum;
typedef unsigned int GLuint;
typedef int GLint;
typedef int GLsizei;
typedef unsigned char GLboolean;
typedef unsigned char GLubyte;
typedef uint64_t GLuint64;
typedef int64_t GLint64;
typedef ptrdiff_t GLsizeiptr;
typedef ptrdiff_t GLintptr;

#define GL_NO_ERROR 0
#define GL_TRUE 1
#define GL_FALSE 0
#define GL_ZERO 0
#define GL_ONE 1
#define GL_VERSION 0x1F02
#define GL_EXTENSIONS 0x1F03
#define GL_NUM_EXTENSIONS 0x821D
#define GL_MAJOR_VERSION 0x821B
#define GL_MINOR_VERSION 0x821C
#define GL_RED 0x1903
#define GL_GREEN 0x1904
#define GL_BLUE 0x1905
#define GL_ALPHA 0x1906
#define GL_TEXTURE_1D 0x0DE0
#define GL_TEXTURE_2D 0x0DE1
#define GL_TEXTURE_3D 0x806F
#define GL_TEXTURE_1D_ARRAY 0x8C18
#define GL_TEXTURE_2D_ARRAY 0x8C1A
#define GL_TEXTURE_CUBE_MAP 0x8513
#define GL_TEXTURE_CUBE_MAP_POSITIVE_X 0x8515
#define GL_TEXTURE_CUBE_MAP_ARRAY 0x9009
#define GL_TEXTURE_2D_MULTISAMPLE 0x9100
#define GL_TEXTURE_2D_MULTISAMPLE_ARRAY 0x9102
#define GL_TEXTURE_BINDING_1D 0x8068
#define GL_TEXTURE_BINDING_2D 0x8069
#define GL_TEXTURE_BINDING_3D 0x806A
#define GL_TEXTURE_BINDING_1D_ARRAY 0x8C1C
#define GL_TEXTURE_BINDING_2D_ARRAY 0x8C1D
#define GL_TEXTURE_BINDING_CUBE_MAP 0x8514
#define GL_TEXTURE_BINDING_CUBE_MAP_ARRAY 0x900A
#define GL_TEXTURE_BINDING_2D_MULTISAMPLE 0x9104
#define GL_TEXTURE_BINDING_2D_MULTISAMPLE_ARRAY 0x9105
#define GL_TEXTURE_MAG_FILTER 0x2800
#define GL_TEXTURE_MIN_FILTER 0x2801
#define GL_NEAREST 0x2600
#define GL_TEXTURE_BASE_LEVEL 0x813C
#define GL_TEXTURE_MAX_LEVEL 0x813D
#define GL_TEXTURE_SWIZZLE_R 0x8E42
#define GL_TEXTURE_SWIZZLE_G 0x8E43
#define GL_TEXTURE_SWIZZLE_B 0x8E44
#define GL_TEXTURE_SWIZZLE_A 0x8E45
#define GL_TEXTURE_IMMUTABLE_FORMAT 0x912F
#define GL_TEXTURE_TILING_EXT 0x9580
#define GL_DEDICATED_MEMORY_OBJECT_EXT 0x9581
#define GL_OPTIMAL_TILING_EXT 0x9584
#define GL_LINEAR_TILING_EXT 0x9585
#define GL_HANDLE_TYPE_OPAQUE_FD_EXT 0x9586
#define GL_DEVICE_UUID_EXT 0x9597
#define GL_DRIVER_UUID_EXT 0x9598
#define GL_LAYOUT_GENERAL_EXT 0x958D
#define GL_TIMELINE_SEMAPHORE_VALUE_NV 0x9595
#define GL_SEMAPHORE_TYPE_NV 0x95B3
#define GL_SEMAPHORE_TYPE_TIMELINE_NV 0x95B5
#define GL_COPY_WRITE_BUFFER 0x8F37
#define GL_BUFFER_SIZE 0x8764
#define GL_BUFFER_IMMUTABLE_STORAGE 0x821F
#define GL_UNPACK_ROW_LENGTH 0x0CF2
#define GL_UNPACK_SKIP_ROWS 0x0CF3
#define GL_UNPACK_SKIP_PIXELS 0x0CF4
#define GL_UNPACK_ALIGNMENT 0x0CF5
#define GL_UNPACK_SKIP_IMAGES 0x806D
#define GL_UNPACK_IMAGE_HEIGHT 0x806E
#define GL_PACK_ROW_LENGTH 0x0D02
#define GL_PACK_SKIP_ROWS 0x0D03
#define GL_PACK_SKIP_PIXELS 0x0D04
#define GL_PACK_ALIGNMENT 0x0D05
#define GL_PACK_SKIP_IMAGES 0x806B
#define GL_PACK_IMAGE_HEIGHT 0x806C
#define GL_PIXEL_PACK_BUFFER 0x88EB
#define GL_PIXEL_UNPACK_BUFFER 0x88EC
#define GL_PIXEL_PACK_BUFFER_BINDING 0x88ED
#define GL_PIXEL_UNPACK_BUFFER_BINDING 0x88EF

/* Entry point slots; names[] below in the same order. */
enum {
    F_GetError, F_GetIntegerv, F_GetString, F_GetStringi, F_Finish, F_Flush,
    F_GenTextures, F_BindTexture, F_TexParameteri, F_GetTexParameteriv, F_DeleteTextures,
    F_GenBuffers, F_BindBuffer, F_DeleteBuffers, F_GetBufferParameteriv, F_GetBufferParameteri64v,
    F_PixelStorei,
    F_TexStorage1D, F_TexStorage2D, F_TexStorage3D, F_TexStorage2DMultisample, F_TexStorage3DMultisample,
    F_TexSubImage1D, F_TexSubImage2D, F_TexSubImage3D,
    F_CompressedTexSubImage1D, F_CompressedTexSubImage2D, F_CompressedTexSubImage3D,
    F_GetTexImage, F_GetCompressedTexImage, F_GetnTexImage, F_GetnCompressedTexImage,
    /* GL_EXT_memory_object(_fd) */
    F_CreateMemoryObjectsEXT, F_MemoryObjectParameterivEXT, F_ImportMemoryFdEXT, F_DeleteMemoryObjectsEXT,
    F_TexStorageMem1DEXT, F_TexStorageMem2DEXT, F_TexStorageMem3DEXT,
    F_TexStorageMem2DMultisampleEXT, F_TexStorageMem3DMultisampleEXT, F_BufferStorageMemEXT,
    F_GetUnsignedBytevEXT, F_GetUnsignedBytei_vEXT,
    /* GL_EXT_semaphore(_fd), GL_NV_timeline_semaphore */
    F_GenSemaphoresEXT, F_DeleteSemaphoresEXT, F_ImportSemaphoreFdEXT, F_SemaphoreParameterui64vEXT,
    F_WaitSemaphoreEXT, F_SignalSemaphoreEXT, F_CreateSemaphoresNV, F_SemaphoreParameterivNV,
    F_COUNT
};

static const char *const names[F_COUNT] = {
    "glGetError", "glGetIntegerv", "glGetString", "glGetStringi", "glFinish", "glFlush",
    "glGenTextures", "glBindTexture", "glTexParameteri", "glGetTexParameteriv", "glDeleteTextures",
    "glGenBuffers", "glBindBuffer", "glDeleteBuffers", "glGetBufferParameteriv", "glGetBufferParameteri64v",
    "glPixelStorei",
    "glTexStorage1D", "glTexStorage2D", "glTexStorage3D", "glTexStorage2DMultisample", "glTexStorage3DMultisample",
    "glTexSubImage1D", "glTexSubImage2D", "glTexSubImage3D",
    "glCompressedTexSubImage1D", "glCompressedTexSubImage2D", "glCompressedTexSubImage3D",
    "glGetTexImage", "glGetCompressedTexImage", "glGetnTexImage", "glGetnCompressedTexImage",
    "glCreateMemoryObjectsEXT", "glMemoryObjectParameterivEXT", "glImportMemoryFdEXT", "glDeleteMemoryObjectsEXT",
    "glTexStorageMem1DEXT", "glTexStorageMem2DEXT", "glTexStorageMem3DEXT",
    "glTexStorageMem2DMultisampleEXT", "glTexStorageMem3DMultisampleEXT", "glBufferStorageMemEXT",
    "glGetUnsignedBytevEXT", "glGetUnsignedBytei_vEXT",
    "glGenSemaphoresEXT", "glDeleteSemaphoresEXT", "glImportSemaphoreFdEXT", "glSemaphoreParameterui64vEXT",
    "glWaitSemaphoreEXT", "glSignalSemaphoreEXT", "glCreateSemaphoresNV", "glSemaphoreParameterivNV",
};

_Static_assert(F_COUNT <= GLBRIDGE_GL_FN_SLOTS, "GLBRIDGE_GL_FN_SLOTS too small");

/* Typed calls through the slots (GL's calling convention is the C one on Linux). */
#define FN(gl, f) ((gl)->fn[F_##f])
#define CALL(gl, f, type) ((type)(gl)->fn[F_##f])
#define glGetError_(gl) CALL(gl, GetError, GLenum (*)(void))()
#define glGetIntegerv_(gl, p, v) CALL(gl, GetIntegerv, void (*)(GLenum, GLint *))(p, v)
#define glBindTexture_(gl, t, n) CALL(gl, BindTexture, void (*)(GLenum, GLuint))(t, n)
#define glTexParameteri_(gl, t, p, v) CALL(gl, TexParameteri, void (*)(GLenum, GLenum, GLint))(t, p, v)
#define glBindBuffer_(gl, t, n) CALL(gl, BindBuffer, void (*)(GLenum, GLuint))(t, n)
#define glPixelStorei_(gl, p, v) CALL(gl, PixelStorei, void (*)(GLenum, GLint))(p, v)
#define glFinish_(gl) CALL(gl, Finish, void (*)(void))()
#define glFlush_(gl) CALL(gl, Flush, void (*)(void))()

static glbridge_status gl_fail(glbridge_gl *gl, glbridge_status st, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static glbridge_status gl_fail(glbridge_gl *gl, glbridge_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(gl->error, sizeof gl->error, fmt, ap);
    va_end(ap);
    return st;
}

static void drain(glbridge_gl *gl)
{
    int i;
    for (i = 0; i < 64 && glGetError_(gl) != GL_NO_ERROR; i++)
        ;
}

static const char *gl_error_name(GLenum e)
{
    switch (e) {
    case 0x0500: return "GL_INVALID_ENUM";
    case 0x0501: return "GL_INVALID_VALUE";
    case 0x0502: return "GL_INVALID_OPERATION";
    case 0x0503: return "GL_STACK_OVERFLOW";
    case 0x0504: return "GL_STACK_UNDERFLOW";
    case 0x0505: return "GL_OUT_OF_MEMORY";
    case 0x0506: return "GL_INVALID_FRAMEBUFFER_OPERATION";
    case 0x0507: return "GL_CONTEXT_LOST";
    }
    return "unknown GL error";
}

/* check: GLBRIDGE_E_GL naming call when GL raised an error (and drains the rest). */
static glbridge_status check(glbridge_gl *gl, const char *call)
{
    GLenum e = glGetError_(gl);
    if (e == GL_NO_ERROR)
        return GLBRIDGE_OK;
    drain(gl);
    return gl_fail(gl, GLBRIDGE_E_GL, "%s: %s (0x%04x)", call, gl_error_name(e), e);
}

/* need: GLBRIDGE_E_GL_UNSUPPORTED unless every slot of list (ending in -1) resolved. */
static glbridge_status need(glbridge_gl *gl, const int *list)
{
    for (; *list >= 0; list++)
        if (!gl->fn[*list])
            return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "the GL context has no %s", names[*list]);
    return GLBRIDGE_OK;
}

static int all(const glbridge_gl *gl, const int *list)
{
    for (; *list >= 0; list++)
        if (!gl->fn[*list])
            return 0;
    return 1;
}

static const int core_tex[] = { F_GenTextures, F_BindTexture, F_TexParameteri, F_GetTexParameteriv,
                                F_DeleteTextures, F_Finish, -1 };
static const int mem_fns[] = { F_CreateMemoryObjectsEXT, F_MemoryObjectParameterivEXT, F_ImportMemoryFdEXT,
                               F_DeleteMemoryObjectsEXT, -1 };
static const int sem_fns[] = { F_GenSemaphoresEXT, F_DeleteSemaphoresEXT, F_ImportSemaphoreFdEXT,
                               F_WaitSemaphoreEXT, F_SignalSemaphoreEXT, F_Flush, -1 };
static const int timeline_fns[] = { F_CreateSemaphoresNV, F_SemaphoreParameterivNV,
                                    F_SemaphoreParameterui64vEXT, -1 };

static int has_ext(const char *list, const char *ext)
{
    size_t n = strlen(ext);
    const char *p = list;
    while (p && (p = strstr(p, ext)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

glbridge_status glbridge_gl_init(glbridge_gl *gl, glbridge_get_proc_address_fn gpa, void *user)
{
    const char *(*get_string)(GLenum);
    const char *(*get_stringi)(GLenum, GLuint);
    const char *version;
    int i, mo = 0, mofd = 0, se = 0, sefd = 0, tl = 0;
    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    memset(gl, 0, sizeof *gl);
    if (!gpa)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_init: get_proc_address is NULL");
    for (i = 0; i < F_COUNT; i++) {
        void *p = gpa(names[i], user);
        memcpy(&gl->fn[i], &p, sizeof p);
    }
    if (!FN(gl, GetError) || !FN(gl, GetIntegerv) || !FN(gl, GetString))
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED,
                       "glbridge_gl_init: get_proc_address found no glGetError/glGetIntegerv/glGetString");
    get_string = CALL(gl, GetString, const char *(*)(GLenum));
    get_stringi = CALL(gl, GetStringi, const char *(*)(GLenum, GLuint));
    version = get_string(GL_VERSION);
    if (!version)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "glbridge_gl_init: glGetString(GL_VERSION) is NULL: no GL context is current");
    drain(gl);
    /* "4.5 (Compatibility Profile) Mesa ..." or "OpenGL ES 3.2 ..." */
    {
        const char *v = version;
        while (*v && (*v < '0' || *v > '9'))
            v++;
        if (sscanf(v, "%d.%d", &gl->major, &gl->minor) != 2)
            gl->major = gl->minor = 0;
    }
    if (gl->major >= 3 && get_stringi) {
        GLint n = 0;
        glGetIntegerv_(gl, GL_NUM_EXTENSIONS, &n);
        for (i = 0; i < n; i++) {
            const char *e = get_stringi(GL_EXTENSIONS, (GLuint)i);
            if (!e)
                continue;
            mo |= !strcmp(e, "GL_EXT_memory_object");
            mofd |= !strcmp(e, "GL_EXT_memory_object_fd");
            se |= !strcmp(e, "GL_EXT_semaphore");
            sefd |= !strcmp(e, "GL_EXT_semaphore_fd");
            tl |= !strcmp(e, "GL_NV_timeline_semaphore");
        }
    } else {
        const char *e = get_string(GL_EXTENSIONS);
        if (e) {
            mo = has_ext(e, "GL_EXT_memory_object");
            mofd = has_ext(e, "GL_EXT_memory_object_fd");
            se = has_ext(e, "GL_EXT_semaphore");
            sefd = has_ext(e, "GL_EXT_semaphore_fd");
            tl = has_ext(e, "GL_NV_timeline_semaphore");
        }
    }
    drain(gl);
    gl->memory_object_fd = mo && mofd && all(gl, mem_fns) && all(gl, core_tex);
    gl->semaphore_fd = se && sefd && all(gl, sem_fns);
    gl->timeline_semaphore = gl->semaphore_fd && tl && all(gl, timeline_fns);
    gl->device_uuids = (mo || se) && FN(gl, GetUnsignedBytevEXT) && FN(gl, GetUnsignedBytei_vEXT);
    return GLBRIDGE_OK;
}

const char *glbridge_gl_last_error(const glbridge_gl *gl)
{
    return gl ? gl->error : "";
}

glbridge_status glbridge_gl_device_uuids(glbridge_gl *gl, uint8_t driver_uuid[16], uint8_t device_uuid[16])
{
    glbridge_status st;
    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    gl->error[0] = '\0';
    if (!gl->device_uuids)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "glbridge_gl_device_uuids: the context has neither GL_EXT_memory_object nor GL_EXT_semaphore");
    drain(gl);
    if (driver_uuid) {
        memset(driver_uuid, 0, 16);
        CALL(gl, GetUnsignedBytevEXT, void (*)(GLenum, GLubyte *))(GL_DRIVER_UUID_EXT, driver_uuid);
        if ((st = check(gl, "glGetUnsignedBytevEXT(GL_DRIVER_UUID_EXT)")) != GLBRIDGE_OK)
            return st;
    }
    if (device_uuid) {
        memset(device_uuid, 0, 16);
        CALL(gl, GetUnsignedBytei_vEXT, void (*)(GLenum, GLuint, GLubyte *))(GL_DEVICE_UUID_EXT, 0, device_uuid);
        if ((st = check(gl, "glGetUnsignedBytei_vEXT(GL_DEVICE_UUID_EXT, 0)")) != GLBRIDGE_OK)
            return st;
    }
    return GLBRIDGE_OK;
}

/* ---- fds ---- */

/* import_dup: a close-on-exec dup of fd for GL, after refusing what no
   driver exports (drivers may block reading a pipe). min_size: a regular
   file must be at least that big (0: no check). */
static glbridge_status import_dup(glbridge_gl *gl, int fd, uint64_t min_size, const char *what, int *out)
{
    struct stat st;
    const char *bad = NULL;
    int d;
    *out = -1;
    if (fd < 0)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: invalid fd %d", what, fd);
    if (fstat(fd, &st) != 0)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: fd %d cannot be inspected: fstat: %s", what, fd, strerror(errno));
    switch (st.st_mode & S_IFMT) {
    case S_IFIFO: bad = "a pipe"; break;
    case S_IFSOCK: bad = "a socket"; break;
    case S_IFDIR: bad = "a directory"; break;
    case S_IFBLK: bad = "a block device"; break;
    case S_IFCHR:
        if (major(st.st_rdev) == 1)
            bad = "a memory device (/dev/null, /dev/zero or the like)";
        break;
    case S_IFREG:
        if (min_size && (st.st_size < 0 || (uint64_t)st.st_size < min_size))
            return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: fd %d is a file of %lld bytes, smaller than the allocation's %llu",
                           what, fd, (long long)st.st_size, (unsigned long long)min_size);
        break;
    }
    if (bad)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: fd %d is %s; not imported", what, fd, bad);
    d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0)
        return gl_fail(gl, GLBRIDGE_E_IO, "%s: dup of fd %d: %s", what, fd, strerror(errno));
    *out = d;
    return GLBRIDGE_OK;
}

/* import_memory: a new memory object holding the memory behind (a dup of) fd. */
static glbridge_status import_memory(glbridge_gl *gl, const glbridge_allocation *a, int fd, const char *what, GLuint *mem)
{
    glbridge_status st;
    GLint dedicated = (a->flags & GLBRIDGE_ALLOC_DEDICATED) ? GL_TRUE : GL_FALSE;
    int d;
    *mem = 0;
    if (a->size == 0)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: the allocation's size is 0", what);
    if ((st = import_dup(gl, fd, a->size, what, &d)) != GLBRIDGE_OK)
        return st;
    CALL(gl, CreateMemoryObjectsEXT, void (*)(GLsizei, GLuint *))(1, mem);
    if ((st = check(gl, "glCreateMemoryObjectsEXT")) != GLBRIDGE_OK) {
        close(d);
        *mem = 0;
        return st;
    }
    /* The dedicated flag cannot change once memory is imported. */
    CALL(gl, MemoryObjectParameterivEXT, void (*)(GLuint, GLenum, const GLint *))(*mem, GL_DEDICATED_MEMORY_OBJECT_EXT, &dedicated);
    st = check(gl, "glMemoryObjectParameterivEXT(GL_DEDICATED_MEMORY_OBJECT_EXT)");
    if (st == GLBRIDGE_OK) {
        CALL(gl, ImportMemoryFdEXT, void (*)(GLuint, GLuint64, GLenum, GLint))(*mem, a->size, GL_HANDLE_TYPE_OPAQUE_FD_EXT, d);
        /* Only a successful import takes the fd (EXT_external_objects_fd). */
        st = check(gl, "glImportMemoryFdEXT");
        if (st == GLBRIDGE_OK)
            return GLBRIDGE_OK;
    }
    close(d);
    CALL(gl, DeleteMemoryObjectsEXT, void (*)(GLsizei, const GLuint *))(1, mem);
    drain(gl);
    *mem = 0;
    return st;
}

static void delete_memory(glbridge_gl *gl, GLuint *mem)
{
    if (*mem && FN(gl, DeleteMemoryObjectsEXT)) {
        /* Mesa 22.3's llvmpipe frees imported memory at once, under pending drawing. */
        glFinish_(gl);
        CALL(gl, DeleteMemoryObjectsEXT, void (*)(GLsizei, const GLuint *))(1, mem);
    }
    *mem = 0;
}

/* ---- textures ---- */

static GLenum binding_of(GLenum target)
{
    switch (target) {
    case GL_TEXTURE_1D: return GL_TEXTURE_BINDING_1D;
    case GL_TEXTURE_2D: return GL_TEXTURE_BINDING_2D;
    case GL_TEXTURE_3D: return GL_TEXTURE_BINDING_3D;
    case GL_TEXTURE_1D_ARRAY: return GL_TEXTURE_BINDING_1D_ARRAY;
    case GL_TEXTURE_2D_ARRAY: return GL_TEXTURE_BINDING_2D_ARRAY;
    case GL_TEXTURE_CUBE_MAP: return GL_TEXTURE_BINDING_CUBE_MAP;
    case GL_TEXTURE_CUBE_MAP_ARRAY: return GL_TEXTURE_BINDING_CUBE_MAP_ARRAY;
    case GL_TEXTURE_2D_MULTISAMPLE: return GL_TEXTURE_BINDING_2D_MULTISAMPLE;
    case GL_TEXTURE_2D_MULTISAMPLE_ARRAY: return GL_TEXTURE_BINDING_2D_MULTISAMPLE_ARRAY;
    }
    return 0;
}

static int multisample(GLenum target)
{
    return target == GL_TEXTURE_2D_MULTISAMPLE || target == GL_TEXTURE_2D_MULTISAMPLE_ARRAY;
}

/* storage: the GL section's storage call, with memory (mem != 0) or of GL's own. */
static glbridge_status storage(glbridge_gl *gl, const glbridge_gl_section *s, GLuint mem, uint64_t offset,
                               const char **call)
{
    GLenum t = s->target, f = s->internal_format;
    GLsizei lv = (GLsizei)s->levels, w = (GLsizei)s->width, h = (GLsizei)s->height, d = (GLsizei)s->depth;
    GLsizei n = (GLsizei)s->samples;
    int slot;
    switch (t) {
    case GL_TEXTURE_1D:
        slot = mem ? F_TexStorageMem1DEXT : F_TexStorage1D;
        break;
    case GL_TEXTURE_1D_ARRAY: case GL_TEXTURE_2D: case GL_TEXTURE_CUBE_MAP:
        slot = mem ? F_TexStorageMem2DEXT : F_TexStorage2D;
        break;
    case GL_TEXTURE_2D_ARRAY: case GL_TEXTURE_3D: case GL_TEXTURE_CUBE_MAP_ARRAY:
        slot = mem ? F_TexStorageMem3DEXT : F_TexStorage3D;
        break;
    case GL_TEXTURE_2D_MULTISAMPLE:
        slot = mem ? F_TexStorageMem2DMultisampleEXT : F_TexStorage2DMultisample;
        break;
    case GL_TEXTURE_2D_MULTISAMPLE_ARRAY:
        slot = mem ? F_TexStorageMem3DMultisampleEXT : F_TexStorage3DMultisample;
        break;
    default:
        return gl_fail(gl, GLBRIDGE_E_UNSUPPORTED_FORMAT, "GL target 0x%04x has no storage call", t);
    }
    *call = names[slot];
    if (!gl->fn[slot])
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "the GL context has no %s", names[slot]);
    switch (slot) {
    case F_TexStorageMem1DEXT:
        CALL(gl, TexStorageMem1DEXT, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLuint, GLuint64))(t, lv, f, w, mem, offset);
        break;
    case F_TexStorageMem2DEXT:
        CALL(gl, TexStorageMem2DEXT, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLuint, GLuint64))(t, lv, f, w, h, mem, offset);
        break;
    case F_TexStorageMem3DEXT:
        CALL(gl, TexStorageMem3DEXT, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLsizei, GLuint, GLuint64))(t, lv, f, w, h, d, mem, offset);
        break;
    case F_TexStorageMem2DMultisampleEXT:
        CALL(gl, TexStorageMem2DMultisampleEXT, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLboolean, GLuint, GLuint64))(t, n, f, w, h, GL_TRUE, mem, offset);
        break;
    case F_TexStorageMem3DMultisampleEXT:
        CALL(gl, TexStorageMem3DMultisampleEXT, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLsizei, GLboolean, GLuint, GLuint64))(t, n, f, w, h, d, GL_TRUE, mem, offset);
        break;
    case F_TexStorage1D:
        CALL(gl, TexStorage1D, void (*)(GLenum, GLsizei, GLenum, GLsizei))(t, lv, f, w);
        break;
    case F_TexStorage2D:
        CALL(gl, TexStorage2D, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei))(t, lv, f, w, h);
        break;
    case F_TexStorage3D:
        CALL(gl, TexStorage3D, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLsizei))(t, lv, f, w, h, d);
        break;
    case F_TexStorage2DMultisample:
        CALL(gl, TexStorage2DMultisample, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLboolean))(t, n, f, w, h, GL_TRUE);
        break;
    case F_TexStorage3DMultisample:
        CALL(gl, TexStorage3DMultisample, void (*)(GLenum, GLsizei, GLenum, GLsizei, GLsizei, GLsizei, GLboolean))(t, n, f, w, h, d, GL_TRUE);
        break;
    }
    return GLBRIDGE_OK;
}

/* make_texture: a texture of rec's GL section, on mem (imported) or of GL's own (mem 0). */
static glbridge_status make_texture(glbridge_gl *gl, const glbridge_record *rec, GLuint mem, glbridge_gl_texture *out)
{
    static const GLenum pnames[4] = { GL_TEXTURE_SWIZZLE_R, GL_TEXTURE_SWIZZLE_G, GL_TEXTURE_SWIZZLE_B, GL_TEXTURE_SWIZZLE_A };
    static const GLint ident[4] = { GL_RED, GL_GREEN, GL_BLUE, GL_ALPHA };
    static const GLint src[7] = { 0, GL_RED, GL_GREEN, GL_BLUE, GL_ALPHA, GL_ZERO, GL_ONE };
    const glbridge_gl_section *s = &rec->gl;
    glbridge_status st;
    const char *call = "";
    GLint prev = 0, immutable = 0;
    GLuint tex = 0;
    int i;
    char what[192];

    for (i = 0; i < 4; i++)
        if (s->swizzle[i] > 6)
            return gl_fail(gl, GLBRIDGE_E_PROTOCOL, "GL section swizzle[%d] is %u, not 0..6", i, s->swizzle[i]);
    if ((st = need(gl, core_tex)) != GLBRIDGE_OK)
        return st;
    drain(gl);
    glGetIntegerv_(gl, binding_of(s->target), &prev);
    CALL(gl, GenTextures, void (*)(GLsizei, GLuint *))(1, &tex);
    glBindTexture_(gl, s->target, tex);
    if ((st = check(gl, "glGenTextures/glBindTexture")) != GLBRIDGE_OK)
        goto fail;
    if (mem) {
        glTexParameteri_(gl, s->target, GL_TEXTURE_TILING_EXT,
                         rec->alloc.tiling == 1 ? GL_LINEAR_TILING_EXT : GL_OPTIMAL_TILING_EXT);
        if ((st = check(gl, "glTexParameteri(GL_TEXTURE_TILING_EXT)")) != GLBRIDGE_OK)
            goto fail;
    }
    if ((st = storage(gl, s, mem, rec->alloc.offset, &call)) != GLBRIDGE_OK)
        goto fail;
    snprintf(what, sizeof what, "%s (target 0x%04x, internal format 0x%04x, %ux%ux%u, %u levels, %u samples)",
             call, s->target, s->internal_format, s->width, s->height, s->depth, s->levels, s->samples);
    if ((st = check(gl, what)) != GLBRIDGE_OK)
        goto fail;
    CALL(gl, GetTexParameteriv, void (*)(GLenum, GLenum, GLint *))(s->target, GL_TEXTURE_IMMUTABLE_FORMAT, &immutable);
    if ((st = check(gl, "glGetTexParameteriv(GL_TEXTURE_IMMUTABLE_FORMAT)")) != GLBRIDGE_OK)
        goto fail;
    if (!immutable) {
        st = gl_fail(gl, GLBRIDGE_E_GL, "%s made no storage, though GL raised no error%s", call,
                     mem ? " (the memory object holds no memory: its import failed silently)" : "");
        goto fail;
    }
    for (i = 0; i < 4; i++)
        glTexParameteri_(gl, s->target, pnames[i], s->swizzle[i] ? src[s->swizzle[i]] : ident[i]);
    if ((st = check(gl, "glTexParameteri(GL_TEXTURE_SWIZZLE_*)")) != GLBRIDGE_OK)
        goto fail;
    if (!multisample(s->target)) {
        glTexParameteri_(gl, s->target, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
        glTexParameteri_(gl, s->target, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
        glTexParameteri_(gl, s->target, GL_TEXTURE_BASE_LEVEL, 0);
        glTexParameteri_(gl, s->target, GL_TEXTURE_MAX_LEVEL, (GLint)s->levels - 1);
        if ((st = check(gl, "glTexParameteri(filters, GL_TEXTURE_BASE_LEVEL/MAX_LEVEL)")) != GLBRIDGE_OK)
            goto fail;
    }
    glBindTexture_(gl, s->target, (GLuint)prev);
    out->name = tex;
    out->target = s->target;
    out->memory = mem;
    return GLBRIDGE_OK;
fail:
    glBindTexture_(gl, s->target, (GLuint)prev);
    CALL(gl, DeleteTextures, void (*)(GLsizei, const GLuint *))(1, &tex);
    drain(gl);
    return st;
}

static glbridge_status texture_args(glbridge_gl *gl, const glbridge_record *rec, glbridge_gl_texture *out, const char *fn)
{
    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    gl->error[0] = '\0';
    if (!out)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: out is NULL", fn);
    memset(out, 0, sizeof *out);
    if (!rec)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: rec is NULL", fn);
    if (rec->gl.target == 0)
        return gl_fail(gl, GLBRIDGE_E_UNSUPPORTED_FORMAT, "%s: the GL section's target is 0: GL cannot view the resource as a texture%s",
                       fn, rec->alloc.desc.dimension == GLBRIDGE_DIM_BUFFER ? " (a buffer: use glbridge_gl_import_buffer)" : "");
    if (!binding_of(rec->gl.target))
        return gl_fail(gl, GLBRIDGE_E_UNSUPPORTED_FORMAT, "%s: GL target 0x%04x has no storage call", fn, rec->gl.target);
    return GLBRIDGE_OK;
}

glbridge_status glbridge_gl_import_texture(glbridge_gl *gl, const glbridge_record *rec, int fd, glbridge_gl_texture *out)
{
    glbridge_status st;
    GLuint mem;
    if ((st = texture_args(gl, rec, out, "glbridge_gl_import_texture")) != GLBRIDGE_OK)
        return st;
    if (!gl->memory_object_fd)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "glbridge_gl_import_texture: the GL context lacks GL_EXT_memory_object_fd (use the copy path)");
    if (rec->alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_texture: host memory is never imported: use the copy path (glbridge_gl_copy_*)");
    if (rec->alloc.tiling > 1)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_texture: unknown tiling %u", rec->alloc.tiling);
    drain(gl);
    if ((st = import_memory(gl, &rec->alloc, fd, "glbridge_gl_import_texture", &mem)) != GLBRIDGE_OK)
        return st;
    if ((st = make_texture(gl, rec, mem, out)) != GLBRIDGE_OK) {
        char keep[sizeof gl->error];
        memcpy(keep, gl->error, sizeof keep);
        delete_memory(gl, &mem);
        drain(gl);
        memcpy(gl->error, keep, sizeof keep);
        return st;
    }
    return GLBRIDGE_OK;
}

void glbridge_gl_texture_close(glbridge_gl *gl, glbridge_gl_texture *tex)
{
    if (!gl || !tex)
        return;
    if (tex->name && FN(gl, DeleteTextures)) {
        if (tex->memory)
            glFinish_(gl);
        CALL(gl, DeleteTextures, void (*)(GLsizei, const GLuint *))(1, &tex->name);
    }
    delete_memory(gl, &tex->memory);
    memset(tex, 0, sizeof *tex);
}

/* ---- buffers ---- */

glbridge_status glbridge_gl_import_buffer(glbridge_gl *gl, const glbridge_record *rec, int fd, glbridge_gl_buffer *out)
{
    static const int buf_fns[] = { F_GenBuffers, F_BindBuffer, F_DeleteBuffers, F_GetBufferParameteriv,
                                   F_GetBufferParameteri64v, F_BufferStorageMemEXT, -1 };
    glbridge_status st;
    GLuint mem = 0, buf = 0;
    GLint prev = 0, immutable = 0;
    GLint64 got = 0;
    uint64_t size;
    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    gl->error[0] = '\0';
    if (!out || !rec)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_buffer: NULL argument");
    memset(out, 0, sizeof *out);
    if (!gl->memory_object_fd)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "glbridge_gl_import_buffer: the GL context lacks GL_EXT_memory_object_fd");
    if ((st = need(gl, buf_fns)) != GLBRIDGE_OK)
        return st;
    if (rec->alloc.desc.dimension != GLBRIDGE_DIM_BUFFER)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_buffer: dimension %u is not a buffer (use glbridge_gl_import_texture)",
                       rec->alloc.desc.dimension);
    if (rec->alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_buffer: host memory is never imported");
    size = rec->alloc.desc.width;
    if (size == 0 || rec->alloc.offset > rec->alloc.size || size > rec->alloc.size - rec->alloc.offset)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_buffer: %llu bytes at offset %llu do not fit memory of %llu bytes",
                       (unsigned long long)size, (unsigned long long)rec->alloc.offset, (unsigned long long)rec->alloc.size);
    drain(gl);
    if ((st = import_memory(gl, &rec->alloc, fd, "glbridge_gl_import_buffer", &mem)) != GLBRIDGE_OK)
        return st;
    glGetIntegerv_(gl, GL_COPY_WRITE_BUFFER, &prev);
    CALL(gl, GenBuffers, void (*)(GLsizei, GLuint *))(1, &buf);
    glBindBuffer_(gl, GL_COPY_WRITE_BUFFER, buf);
    if ((st = check(gl, "glGenBuffers/glBindBuffer(GL_COPY_WRITE_BUFFER)")) != GLBRIDGE_OK)
        goto fail;
    CALL(gl, BufferStorageMemEXT, void (*)(GLenum, GLsizeiptr, GLuint, GLuint64))(GL_COPY_WRITE_BUFFER, (GLsizeiptr)size, mem, rec->alloc.offset);
    if ((st = check(gl, "glBufferStorageMemEXT")) != GLBRIDGE_OK)
        goto fail;
    CALL(gl, GetBufferParameteriv, void (*)(GLenum, GLenum, GLint *))(GL_COPY_WRITE_BUFFER, GL_BUFFER_IMMUTABLE_STORAGE, &immutable);
    CALL(gl, GetBufferParameteri64v, void (*)(GLenum, GLenum, GLint64 *))(GL_COPY_WRITE_BUFFER, GL_BUFFER_SIZE, &got);
    if ((st = check(gl, "glGetBufferParameteriv(GL_BUFFER_IMMUTABLE_STORAGE, GL_BUFFER_SIZE)")) != GLBRIDGE_OK)
        goto fail;
    if (!immutable || (uint64_t)got != size) {
        st = gl_fail(gl, GLBRIDGE_E_GL, "glBufferStorageMemEXT made no storage (immutable %d, size %lld of %llu), though GL raised no error: the import failed silently",
                     immutable, (long long)got, (unsigned long long)size);
        goto fail;
    }
    glBindBuffer_(gl, GL_COPY_WRITE_BUFFER, (GLuint)prev);
    out->name = buf;
    out->memory = mem;
    out->size = size;
    return GLBRIDGE_OK;
fail:
    glBindBuffer_(gl, GL_COPY_WRITE_BUFFER, (GLuint)prev);
    if (buf)
        CALL(gl, DeleteBuffers, void (*)(GLsizei, const GLuint *))(1, &buf);
    {
        char keep[sizeof gl->error];
        memcpy(keep, gl->error, sizeof keep);
        delete_memory(gl, &mem);
        drain(gl);
        memcpy(gl->error, keep, sizeof keep);
    }
    return st;
}

void glbridge_gl_buffer_close(glbridge_gl *gl, glbridge_gl_buffer *buf)
{
    if (!gl || !buf)
        return;
    if (buf->name && FN(gl, DeleteBuffers)) {
        glFinish_(gl);
        CALL(gl, DeleteBuffers, void (*)(GLsizei, const GLuint *))(1, &buf->name);
    }
    delete_memory(gl, &buf->memory);
    memset(buf, 0, sizeof *buf);
}

/* ---- the copy path ---- */

glbridge_status glbridge_gl_copy_texture_create(glbridge_gl *gl, const glbridge_record *rec, glbridge_gl_texture *out)
{
    glbridge_status st;
    if ((st = texture_args(gl, rec, out, "glbridge_gl_copy_texture_create")) != GLBRIDGE_OK)
        return st;
    return make_texture(gl, rec, 0, out);
}

/* layers: how many subresources of level layout size one call covers, and
   how many calls (faces) a level takes. */
static void level_shape(const glbridge_gl_section *s, uint32_t *layers, uint32_t *faces)
{
    *faces = 1;
    switch (s->target) {
    case GL_TEXTURE_1D_ARRAY: *layers = s->height; break;
    case GL_TEXTURE_2D_ARRAY: case GL_TEXTURE_CUBE_MAP_ARRAY: *layers = s->depth; break;
    case GL_TEXTURE_CUBE_MAP: *layers = 1; *faces = 6; break;
    default: *layers = 1; break;
    }
}

struct pixel_state {
    GLenum pname;
    GLint saved;
};

/* copy: fill (upload != 0) or write back every level of tex as rec's layouts say. */
static glbridge_status copy(glbridge_gl *gl, const glbridge_record *rec, int memfd, const glbridge_gl_texture *tex, int upload)
{
    static const int up_fns[] = { F_PixelStorei, F_BindTexture, F_GetIntegerv, F_BindBuffer, F_TexSubImage1D, F_TexSubImage2D,
                                  F_TexSubImage3D, F_CompressedTexSubImage1D, F_CompressedTexSubImage2D,
                                  F_CompressedTexSubImage3D, -1 };
    static const int down_fns[] = { F_PixelStorei, F_BindTexture, F_GetIntegerv, F_BindBuffer, F_GetTexImage,
                                    F_GetCompressedTexImage, -1 };
    const char *fn = upload ? "glbridge_gl_copy_fill" : "glbridge_gl_copy_write_back";
    const glbridge_gl_section *s;
    struct pixel_state ps[7];
    GLenum buffer_binding = upload ? GL_PIXEL_UNPACK_BUFFER_BINDING : GL_PIXEL_PACK_BUFFER_BINDING;
    GLenum buffer_target = upload ? GL_PIXEL_UNPACK_BUFFER : GL_PIXEL_PACK_BUFFER;
    GLint prev_tex = 0, prev_buf = 0;
    glbridge_status st = GLBRIDGE_OK;
    uint32_t layers, faces, i, f;
    struct stat sb;
    unsigned char *base;
    size_t size;
    int compressed;

    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    gl->error[0] = '\0';
    if (!rec || !tex)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: NULL argument", fn);
    s = &rec->gl;
    if (s->target == 0)
        return gl_fail(gl, GLBRIDGE_E_UNSUPPORTED_FORMAT, "%s: the GL section's target is 0: GL cannot view the resource as a texture", fn);
    if (s->level_count == 0 || s->level_count > GLBRIDGE_MAX_LEVELS)
        return gl_fail(gl, GLBRIDGE_E_UNSUPPORTED_FORMAT, "%s: the record has no host-memory level layouts (%u): not host memory, multisampled, or a format with stencil",
                       fn, s->level_count);
    if (tex->target != s->target || tex->name == 0)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: texture %u of target 0x%04x, not the GL section's 0x%04x", fn, tex->name, tex->target, s->target);
    if (s->level_count > s->levels)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: %u level layouts for %u levels", fn, s->level_count, s->levels);
    if ((st = need(gl, upload ? up_fns : down_fns)) != GLBRIDGE_OK)
        return st;
    if (rec->alloc.size == 0 || rec->alloc.size > SIZE_MAX)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: the record's size %llu cannot be mapped", fn, (unsigned long long)rec->alloc.size);
    size = (size_t)rec->alloc.size;
    level_shape(s, &layers, &faces);
    for (i = 0; i < s->level_count; i++) {
        const glbridge_level_layout *L = &rec->levels[i];
        uint64_t n = (uint64_t)layers * faces;
        if (L->subresource_size == 0 || L->subresource_size > UINT64_MAX / n || L->offset > rec->alloc.size ||
            L->subresource_size * n > rec->alloc.size - L->offset)
            return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: level %u's layout (offset %llu, %llu bytes x %llu) lies outside the memory's %llu bytes",
                           fn, i, (unsigned long long)L->offset, (unsigned long long)L->subresource_size,
                           (unsigned long long)n, (unsigned long long)rec->alloc.size);
        if (L->subresource_size * layers > 0x7fffffffu)
            return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: level %u is too big for one GL call", fn, i);
    }
    if (memfd < 0 || fstat(memfd, &sb) != 0)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: memfd %d cannot be inspected", fn, memfd);
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size < rec->alloc.size)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: memfd %d is not a memfd of at least %llu bytes", fn, memfd, (unsigned long long)rec->alloc.size);
    base = mmap(NULL, size, upload ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (base == MAP_FAILED)
        return gl_fail(gl, GLBRIDGE_E_IO, "%s: mmap of memfd %d (%zu bytes): %s", fn, memfd, size, strerror(errno));

    drain(gl);
    if (upload) {
        ps[0].pname = GL_UNPACK_ALIGNMENT; ps[1].pname = GL_UNPACK_ROW_LENGTH; ps[2].pname = GL_UNPACK_IMAGE_HEIGHT;
        ps[3].pname = GL_UNPACK_SKIP_ROWS; ps[4].pname = GL_UNPACK_SKIP_PIXELS; ps[5].pname = GL_UNPACK_SKIP_IMAGES;
    } else {
        ps[0].pname = GL_PACK_ALIGNMENT; ps[1].pname = GL_PACK_ROW_LENGTH; ps[2].pname = GL_PACK_IMAGE_HEIGHT;
        ps[3].pname = GL_PACK_SKIP_ROWS; ps[4].pname = GL_PACK_SKIP_PIXELS; ps[5].pname = GL_PACK_SKIP_IMAGES;
    }
    for (i = 0; i < 6; i++) {
        ps[i].saved = 0;
        glGetIntegerv_(gl, ps[i].pname, &ps[i].saved);
        glPixelStorei_(gl, ps[i].pname, i == 0 ? 1 : 0);
    }
    glGetIntegerv_(gl, buffer_binding, &prev_buf);
    glBindBuffer_(gl, buffer_target, 0);
    glGetIntegerv_(gl, binding_of(s->target), &prev_tex);
    glBindTexture_(gl, s->target, tex->name);
    if ((st = check(gl, "glPixelStorei/glBindBuffer/glBindTexture")) != GLBRIDGE_OK)
        goto out;

    compressed = s->format == 0;
    for (i = 0; i < s->level_count && st == GLBRIDGE_OK; i++) {
        const glbridge_level_layout *L = &rec->levels[i];
        GLint lv = (GLint)i;
        GLsizei w = (GLsizei)L->width, h = (GLsizei)L->height;
        GLsizei img = (GLsizei)(L->subresource_size * layers);
        for (f = 0; f < faces; f++) {
            unsigned char *p = base + L->offset + (size_t)f * L->subresource_size;
            GLenum t = faces == 6 ? GL_TEXTURE_CUBE_MAP_POSITIVE_X + f : s->target;
            const char *call;
            char what[192];
            if (!upload) {
                if (compressed) {
                    call = "glGetCompressedTexImage";
                    CALL(gl, GetCompressedTexImage, void (*)(GLenum, GLint, void *))(t, lv, p);
                } else {
                    call = "glGetTexImage";
                    CALL(gl, GetTexImage, void (*)(GLenum, GLint, GLenum, GLenum, void *))(t, lv, s->format, s->type, p);
                }
            } else if (s->target == GL_TEXTURE_1D) {
                if (compressed) {
                    call = "glCompressedTexSubImage1D";
                    CALL(gl, CompressedTexSubImage1D, void (*)(GLenum, GLint, GLint, GLsizei, GLenum, GLsizei, const void *))(t, lv, 0, w, s->internal_format, img, p);
                } else {
                    call = "glTexSubImage1D";
                    CALL(gl, TexSubImage1D, void (*)(GLenum, GLint, GLint, GLsizei, GLenum, GLenum, const void *))(t, lv, 0, w, s->format, s->type, p);
                }
            } else if (s->target == GL_TEXTURE_1D_ARRAY || s->target == GL_TEXTURE_2D || s->target == GL_TEXTURE_CUBE_MAP) {
                GLsizei hh = s->target == GL_TEXTURE_1D_ARRAY ? (GLsizei)s->height : h;
                if (compressed) {
                    call = "glCompressedTexSubImage2D";
                    CALL(gl, CompressedTexSubImage2D, void (*)(GLenum, GLint, GLint, GLint, GLsizei, GLsizei, GLenum, GLsizei, const void *))(t, lv, 0, 0, w, hh, s->internal_format, img, p);
                } else {
                    call = "glTexSubImage2D";
                    CALL(gl, TexSubImage2D, void (*)(GLenum, GLint, GLint, GLint, GLsizei, GLsizei, GLenum, GLenum, const void *))(t, lv, 0, 0, w, hh, s->format, s->type, p);
                }
            } else {
                GLsizei d = s->target == GL_TEXTURE_3D ? (GLsizei)L->depth : (GLsizei)s->depth;
                if (compressed) {
                    call = "glCompressedTexSubImage3D";
                    CALL(gl, CompressedTexSubImage3D, void (*)(GLenum, GLint, GLint, GLint, GLint, GLsizei, GLsizei, GLsizei, GLenum, GLsizei, const void *))(t, lv, 0, 0, 0, w, h, d, s->internal_format, img, p);
                } else {
                    call = "glTexSubImage3D";
                    CALL(gl, TexSubImage3D, void (*)(GLenum, GLint, GLint, GLint, GLint, GLsizei, GLsizei, GLsizei, GLenum, GLenum, const void *))(t, lv, 0, 0, 0, w, h, d, s->format, s->type, p);
                }
            }
            snprintf(what, sizeof what, "%s(target 0x%04x, level %u)", call, t, i);
            if ((st = check(gl, what)) != GLBRIDGE_OK)
                break;
        }
    }
out:
    {
        char keep[sizeof gl->error];
        memcpy(keep, gl->error, sizeof keep);
        glBindTexture_(gl, s->target, (GLuint)prev_tex);
        glBindBuffer_(gl, buffer_target, (GLuint)prev_buf);
        for (i = 0; i < 6; i++)
            glPixelStorei_(gl, ps[i].pname, ps[i].saved);
        drain(gl);
        memcpy(gl->error, keep, sizeof keep);
    }
    munmap(base, size);
    return st;
}

glbridge_status glbridge_gl_copy_fill(glbridge_gl *gl, const glbridge_record *rec, int memfd, const glbridge_gl_texture *tex)
{
    return copy(gl, rec, memfd, tex, 1);
}

glbridge_status glbridge_gl_copy_write_back(glbridge_gl *gl, const glbridge_record *rec, int memfd, const glbridge_gl_texture *tex)
{
    return copy(gl, rec, memfd, tex, 0);
}

/* ---- semaphores ---- */

glbridge_status glbridge_gl_import_semaphore(glbridge_gl *gl, int fd, int timeline, glbridge_gl_semaphore *out)
{
    glbridge_status st;
    GLuint sem = 0;
    int d;
    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    gl->error[0] = '\0';
    if (!out)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "glbridge_gl_import_semaphore: out is NULL");
    memset(out, 0, sizeof *out);
    if (!gl->semaphore_fd)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "glbridge_gl_import_semaphore: the GL context lacks GL_EXT_semaphore_fd");
    if (timeline && !gl->timeline_semaphore)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "glbridge_gl_import_semaphore: a timeline semaphore needs GL_NV_timeline_semaphore, which the GL context lacks");
    if ((st = import_dup(gl, fd, 0, "glbridge_gl_import_semaphore", &d)) != GLBRIDGE_OK)
        return st;
    drain(gl);
    if (timeline) {
        GLint type = GL_SEMAPHORE_TYPE_TIMELINE_NV;
        /* glCreate, not glGen: the type is set on a live object. */
        CALL(gl, CreateSemaphoresNV, void (*)(GLsizei, GLuint *))(1, &sem);
        CALL(gl, SemaphoreParameterivNV, void (*)(GLuint, GLenum, const GLint *))(sem, GL_SEMAPHORE_TYPE_NV, &type);
        st = check(gl, "glCreateSemaphoresNV/glSemaphoreParameterivNV(GL_SEMAPHORE_TYPE_NV)");
    } else {
        CALL(gl, GenSemaphoresEXT, void (*)(GLsizei, GLuint *))(1, &sem);
        st = check(gl, "glGenSemaphoresEXT");
    }
    if (st == GLBRIDGE_OK) {
        CALL(gl, ImportSemaphoreFdEXT, void (*)(GLuint, GLenum, GLint))(sem, GL_HANDLE_TYPE_OPAQUE_FD_EXT, d);
        st = check(gl, "glImportSemaphoreFdEXT");
    }
    if (st != GLBRIDGE_OK) {
        close(d);
        if (sem)
            CALL(gl, DeleteSemaphoresEXT, void (*)(GLsizei, const GLuint *))(1, &sem);
        drain(gl);
        return st;
    }
    out->name = sem;
    out->timeline = timeline ? 1 : 0;
    return GLBRIDGE_OK;
}

static glbridge_status sem_op(glbridge_gl *gl, const glbridge_gl_semaphore *sem, uint64_t value, uint32_t nb,
                              const uint32_t *buffers, uint32_t nt, const uint32_t *textures, const uint32_t *layouts,
                              int signal)
{
    const char *fn = signal ? "glbridge_gl_signal_semaphore" : "glbridge_gl_wait_semaphore";
    GLenum lay[64];
    glbridge_status st;
    uint32_t i;
    if (!gl)
        return GLBRIDGE_E_ARGUMENT;
    gl->error[0] = '\0';
    if (!gl->semaphore_fd)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "%s: the GL context lacks GL_EXT_semaphore_fd", fn);
    if (!sem || sem->name == 0 || (nb && !buffers) || (nt && !textures) || nt > 64)
        return gl_fail(gl, GLBRIDGE_E_ARGUMENT, "%s: bad semaphore, buffer or texture list", fn);
    if (sem->timeline && !gl->timeline_semaphore)
        return gl_fail(gl, GLBRIDGE_E_GL_UNSUPPORTED, "%s: the GL context lacks GL_NV_timeline_semaphore", fn);
    for (i = 0; i < nt; i++)
        lay[i] = layouts ? layouts[i] : GL_LAYOUT_GENERAL_EXT;
    drain(gl);
    if (sem->timeline) {
        GLuint64 v = value;
        CALL(gl, SemaphoreParameterui64vEXT, void (*)(GLuint, GLenum, const GLuint64 *))(sem->name, GL_TIMELINE_SEMAPHORE_VALUE_NV, &v);
        if ((st = check(gl, "glSemaphoreParameterui64vEXT(GL_TIMELINE_SEMAPHORE_VALUE_NV)")) != GLBRIDGE_OK)
            return st;
    }
    if (signal) {
        CALL(gl, SignalSemaphoreEXT, void (*)(GLuint, GLuint, const GLuint *, GLuint, const GLuint *, const GLenum *))(sem->name, nb, buffers, nt, textures, lay);
        if ((st = check(gl, "glSignalSemaphoreEXT")) != GLBRIDGE_OK)
            return st;
        glFlush_(gl);
        return check(gl, "glFlush");
    }
    CALL(gl, WaitSemaphoreEXT, void (*)(GLuint, GLuint, const GLuint *, GLuint, const GLuint *, const GLenum *))(sem->name, nb, buffers, nt, textures, lay);
    return check(gl, "glWaitSemaphoreEXT");
}

glbridge_status glbridge_gl_wait_semaphore(glbridge_gl *gl, const glbridge_gl_semaphore *sem, uint64_t value,
                                           uint32_t buffer_count, const uint32_t *buffers, uint32_t texture_count,
                                           const uint32_t *textures, const uint32_t *layouts)
{
    return sem_op(gl, sem, value, buffer_count, buffers, texture_count, textures, layouts, 0);
}

glbridge_status glbridge_gl_signal_semaphore(glbridge_gl *gl, const glbridge_gl_semaphore *sem, uint64_t value,
                                             uint32_t buffer_count, const uint32_t *buffers, uint32_t texture_count,
                                             const uint32_t *textures, const uint32_t *layouts)
{
    return sem_op(gl, sem, value, buffer_count, buffers, texture_count, textures, layouts, 1);
}

void glbridge_gl_semaphore_close(glbridge_gl *gl, glbridge_gl_semaphore *sem)
{
    if (!gl || !sem)
        return;
    if (sem->name && FN(gl, DeleteSemaphoresEXT))
        CALL(gl, DeleteSemaphoresEXT, void (*)(GLsizei, const GLuint *))(1, &sem->name);
    memset(sem, 0, sizeof *sem);
}
