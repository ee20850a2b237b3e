/*
 * c-client: open a glbridge shared texture from plain C, as a C renderer
 * such as Wine's wined3d would, import it into a Vulkan device of its own
 * and check every texel.
 *
 * It uses nothing of glbridge but docs/protocol.md: it connects to the
 * broker's SOCK_SEQPACKET socket, sends OPEN_KMT, receives the resource
 * record and the memory fd (SCM_RIGHTS), picks the Vulkan physical device
 * whose driver and device UUIDs equal the record's, creates the image the
 * record describes, imports the fd as its memory, and copies the texels
 * into a host-visible buffer. A record of host memory (the copy path: a
 * GL without GL_EXT_memory_object_fd shared it, or its producer forced a
 * copy) is a sealed memfd of packed texels instead, which it maps and
 * reads, as a Vulkan renderer would before uploading them to an image of
 * its own.
 *
 * Build (C99; Vulkan headers only, the loader is opened at run time):
 *
 *     make samples
 *     gcc -std=c99 -Wall -Wextra -Werror -O2 -o bin/c-client \
 *         samples/c-client/c-client.c -ldl
 *
 * Run, with a broker and samples/producer running (see samples/producer):
 *
 *     bin/c-client SOCKET KMT FRAME
 *     bin/c-client "$XDG_RUNTIME_DIR/glbridge/broker.sock" 0x40400002 7
 *
 * FRAME is the frame of glbridge's test pattern the producer drew
 * (producer -frame, 7 by default). The exit status is 0 only if every
 * texel matches; otherwise 1, with a message naming the failing call, or
 * the broker's error (NOT_FOUND for a stale or made-up handle).
 *
 * Vulkan is loaded with dlopen("libvulkan.so.1"): the loader's runtime
 * name, present wherever Vulkan is (the unversioned libvulkan.so comes
 * only with the development package).
 */
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC, SOCK_CLOEXEC */
#define VK_NO_PROTOTYPES
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vulkan/vulkan.h>

/* ---- The broker protocol (docs/protocol.md) ---- */

#define GLB_MAGIC 0x52424C47u
/* Version 1 on purpose: a broker of version 2 still serves version-1
 * clients with version-1 replies (docs/protocol.md, "Versions"), and this
 * sample's test is what shows it, across processes with a real Vulkan
 * import. A client that allocates through the broker speaks version 2. */
#define GLB_VERSION 1
#define GLB_DXGI_FORMAT_R8G8B8A8_UNORM 28
#define GLB_HEADER_SIZE 24
#define GLB_MAX_MESSAGE 73728
#define GLB_MAX_FDS 8
#define GLB_MAX_SYNC 7
#define GLB_OPEN_KMT 3
#define GLB_REPLY 0x8000
#define GLB_FATAL 0xFFFF
#define GLB_RECORD_SIZE 136 /* resource record without private data */
#define GLB_DIMENSION_TEXTURE2D 3

static const char *const glb_status_names[] = {
    "OK", "BAD_MESSAGE", "BAD_VERSION", "UNKNOWN_TYPE", "TOO_LARGE",
    "BAD_FDS", "BAD_HANDLE", "NOT_FOUND", "ACCESS_DENIED", "NAME_TAKEN",
    "BAD_NAME", "LIMIT", "UNSUPPORTED", "INVALID", "INTERNAL",
};

/* Integers are little-endian at any offset: read and write them byte by
 * byte, never through a cast pointer. */
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(unsigned char *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (v >> (8 * i)) & 0xff;
}

/* The Allocation record (112 bytes), decoded. */
struct allocation {
    uint32_t dimension, width, height, depth_or_array_size, mip_levels, sample_count;
    uint32_t dxgi_format;
    uint32_t vk_format, tiling, image_usage, image_flags;
    uint64_t size, offset;
    uint32_t memory_type_index;
    int dedicated, host_memory;
    uint8_t driver_uuid[VK_UUID_SIZE], device_uuid[VK_UUID_SIZE];
};

static void decode_allocation(const unsigned char *p, struct allocation *a)
{
    a->dimension = get32(p + 0);
    a->width = get32(p + 4);
    a->height = get32(p + 8);
    a->depth_or_array_size = get32(p + 12);
    a->mip_levels = get32(p + 16);
    a->sample_count = get32(p + 20);
    a->dxgi_format = get32(p + 24);
    /* 28..39: D3D11 bind, misc and CPU access flags, not needed here. */
    a->vk_format = get32(p + 40);
    a->tiling = get32(p + 44);
    a->image_usage = get32(p + 48);
    a->image_flags = get32(p + 52);
    a->size = get64(p + 56);
    a->offset = get64(p + 64);
    a->memory_type_index = get32(p + 72);
    a->dedicated = get32(p + 76) & 1;
    a->host_memory = get32(p + 76) >> 1 & 1;
    memcpy(a->driver_uuid, p + 80, VK_UUID_SIZE);
    memcpy(a->device_uuid, p + 96, VK_UUID_SIZE);
}

static void print_uuid(const char *label, const uint8_t *u)
{
    printf("%s", label);
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        printf("%02x", u[i]);
}

/* open_kmt asks the broker at sock_path for the resource with KMT handle
 * kmt. On success it returns 0 with the record in *a and the memory fd,
 * which the caller owns, in *fd. */
static int open_kmt(const char *sock_path, uint32_t kmt, struct allocation *a, int *fd)
{
    static unsigned char rep[GLB_MAX_MESSAGE];
    int fds[GLB_MAX_FDS], nfds = 0, ret = -1;
    const uint32_t request_id = 1;

    int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        perror("c-client: socket(AF_UNIX, SOCK_SEQPACKET)");
        return -1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof addr.sun_path) {
        fprintf(stderr, "c-client: socket path too long: %s\n", sock_path);
        goto out;
    }
    strcpy(addr.sun_path, sock_path);
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "c-client: connect %s: %s (is `glshare serve` running?)\n", sock_path, strerror(errno));
        goto out;
    }

    /* OPEN_KMT: the 24-byte header, then the handle and a reserved 0. */
    unsigned char msg[GLB_HEADER_SIZE + 8] = {0};
    put32(msg + 0, GLB_MAGIC);
    put16(msg + 4, GLB_VERSION);
    put16(msg + 6, GLB_OPEN_KMT);
    put32(msg + 8, request_id);
    put32(msg + 12, 8); /* payload_len; num_fds, flags, status stay 0 */
    put32(msg + 24, kmt);
    if (send(sock, msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg) {
        fprintf(stderr, "c-client: send OPEN_KMT: %s\n", strerror(errno));
        goto out;
    }

    /* The reply, with its fds as SCM_RIGHTS control data. The union aligns
     * the control buffer for struct cmsghdr. */
    union {
        char buf[CMSG_SPACE(GLB_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {rep, sizeof rep};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0) {
        fprintf(stderr, "c-client: recvmsg: %s\n", strerror(errno));
        goto out;
    }
    /* Take every fd that arrived first, so that none leaks on an error. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < GLB_MAX_FDS; i++)
            memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if (mh.msg_flags & MSG_CTRUNC) {
        fprintf(stderr, "c-client: recvmsg: control data truncated (MSG_CTRUNC): fds were lost\n");
        goto out;
    }
    if (mh.msg_flags & MSG_TRUNC) {
        fprintf(stderr, "c-client: recvmsg: reply longer than %d bytes (MSG_TRUNC)\n", GLB_MAX_MESSAGE);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "c-client: the broker closed the connection without a reply\n");
        goto out;
    }
    if (n < GLB_HEADER_SIZE || get32(rep) != GLB_MAGIC || get16(rep + 4) != GLB_VERSION) {
        fprintf(stderr, "c-client: malformed reply (%zd bytes, magic %#x, version %u)\n",
                n, n >= 4 ? get32(rep) : 0, n >= 6 ? get16(rep + 4) : 0);
        goto out;
    }
    uint16_t type = get16(rep + 6);
    uint32_t id = get32(rep + 8), payload_len = get32(rep + 12), status = get32(rep + 20);
    uint16_t num_fds = get16(rep + 16);
    const unsigned char *payload = rep + GLB_HEADER_SIZE;
    if (payload_len != (uint32_t)n - GLB_HEADER_SIZE || num_fds != nfds) {
        fprintf(stderr, "c-client: malformed reply: payload_len %u for %zd bytes, num_fds %u for %d fds\n",
                payload_len, n, num_fds, nfds);
        goto out;
    }
    if (type == GLB_FATAL || status != 0) {
        const char *name = status < sizeof glb_status_names / sizeof *glb_status_names ? glb_status_names[status] : "?";
        fprintf(stderr, "c-client: broker %s OPEN_KMT %#010x: %s (%u): %.*s\n",
                type == GLB_FATAL ? "dropped the connection at" : "refused",
                kmt, name, status, (int)(payload_len > 256 ? 256 : payload_len), (const char *)payload);
        goto out;
    }
    if (type != (GLB_OPEN_KMT | GLB_REPLY) || id != request_id) {
        fprintf(stderr, "c-client: reply type %#x id %u to OPEN_KMT id %u\n", type, id, request_id);
        goto out;
    }

    /* The resource record: handle, kmt, access, sync_count, data_len,
     * reserved, the Allocation at 24, one u32 kind per sync object (1
     * binary, 2 timeline semaphore), then private data. */
    uint32_t sync_count = payload_len >= 20 ? get32(payload + 12) : 0;
    uint32_t data_len = payload_len >= 20 ? get32(payload + 16) : 0;
    if (payload_len < GLB_RECORD_SIZE || sync_count > GLB_MAX_SYNC ||
        payload_len != GLB_RECORD_SIZE + 4 * sync_count + data_len) {
        fprintf(stderr, "c-client: resource record of %u bytes (sync_count %u, data_len %u)\n",
                payload_len, sync_count, data_len);
        goto out;
    }
    /* The memory fd comes first, then one fd per sync object. This sample
     * reads once, after the producer finished drawing, so it closes the
     * semaphores; a renderer would import them to order its accesses. */
    if (nfds != 1 + (int)sync_count) {
        fprintf(stderr, "c-client: %d fds for a resource with %u sync objects\n", nfds, sync_count);
        goto out;
    }
    decode_allocation(payload + 24, a);
    printf("c-client: the record lists %u sync object(s) and %u bytes of private runtime data\n", sync_count, data_len);
    *fd = fds[0];
    fds[0] = -1;
    ret = 0;
out:
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* Closing the connection also releases the reference OPEN_KMT took;
     * the fd stays valid: it is ours. A renderer keeping the resource open
     * keeps the connection too, and sends CLOSE when done. */
    close(sock);
    return ret;
}

/* ---- glbridge's test pattern (internal/testpattern), rows bottom first ---- */

static void fill(unsigned char *px, int w, int h, int rx, int ry, int rw, int rh,
                 unsigned char r, unsigned char g, unsigned char b)
{
    for (int y = ry; y < ry + rh && y < h; y++)
        for (int x = rx; x < rx + rw && x < w; x++) {
            unsigned char *t = px + ((size_t)y * w + x) * 4;
            t[0] = r, t[1] = g, t[2] = b, t[3] = 255;
        }
}

static int imax(int a, int b) { return a > b ? a : b; }

static void expected_pattern(unsigned char *px, int w, int h, int frame)
{
    static const unsigned char bars[8][3] = {
        {255, 255, 255}, {255, 255, 0}, {0, 255, 255}, {0, 255, 0},
        {255, 0, 255}, {255, 0, 0}, {0, 0, 255}, {0, 0, 0},
    };
    fill(px, w, h, 0, 0, w, h, 0, 0, 0); /* black background */
    int top = h / 2;                      /* colour bars over the top half */
    for (int i = 0; i < 8; i++)
        fill(px, w, h, i * w / 8, top, (i + 1) * w / 8 - i * w / 8, h - top, bars[i][0], bars[i][1], bars[i][2]);
    int ramp_h = h / 4; /* a 16-step grey ramp over the bottom quarter */
    for (int i = 0; i < 16; i++)
        fill(px, w, h, i * w / 16, 0, (i + 1) * w / 16 - i * w / 16, ramp_h, i * 17, i * 17, i * 17);
    int band = top - ramp_h; /* a white square moving right, frame by frame */
    int side = imax(band / 2, 1), step = imax(w / 16, 1);
    int x = (frame * step) % imax(w - side + 1, 1);
    fill(px, w, h, x, ramp_h + (band - side) / 2, side, side, 255, 255, 255);
    int bits_h = imax(h / 16, 1); /* the frame number in binary, LSB left */
    for (int i = 0; i < 16; i++) {
        unsigned char v = (frame >> i & 1) ? 255 : 64;
        fill(px, w, h, i * w / 16, 0, (i + 1) * w / 16 - i * w / 16, bits_h, v, v, v);
    }
}

/* ---- Vulkan, loaded at run time ---- */

static PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define VK_FN(name) static PFN_##name name;
#define INSTANCE_FNS(X)                                                                  \
    X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties2) \
    X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkGetPhysicalDeviceMemoryProperties)  \
    X(vkCreateDevice) X(vkGetDeviceProcAddr)
#define DEVICE_FNS(X)                                                                                    \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateImage) X(vkDestroyImage)                            \
    X(vkGetImageMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) X(vkBindImageMemory)             \
    X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) X(vkBindBufferMemory)          \
    X(vkMapMemory) X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers)            \
    X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkCmdPipelineBarrier) X(vkCmdCopyImageToBuffer)      \
    X(vkCreateFence) X(vkDestroyFence) X(vkQueueSubmit) X(vkWaitForFences)
static PFN_vkCreateInstance vkCreateInstance;
static PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion;
INSTANCE_FNS(VK_FN)
DEVICE_FNS(VK_FN)

#define LOAD_INSTANCE(name)                                                   \
    if (!(name = (PFN_##name)vkGetInstanceProcAddr(inst, #name))) {           \
        fprintf(stderr, "c-client: vkGetInstanceProcAddr(%s) failed\n", #name); \
        goto out;                                                             \
    }
#define LOAD_DEVICE(name)                                                   \
    if (!(name = (PFN_##name)vkGetDeviceProcAddr(dev, #name))) {            \
        fprintf(stderr, "c-client: vkGetDeviceProcAddr(%s) failed\n", #name); \
        goto out;                                                           \
    }
#define VK_CHECK(call)                                                         \
    do {                                                                       \
        VkResult r_ = (call);                                                  \
        if (r_ != VK_SUCCESS) {                                                \
            fprintf(stderr, "c-client: %s: VkResult %d\n", #call, (int)r_); \
            goto out;                                                          \
        }                                                                      \
    } while (0)

/* memory_type returns a memory type index in bits with the properties
 * want, or -1. */
static int memory_type(VkPhysicalDevice pd, uint32_t bits, VkMemoryPropertyFlags want)
{
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    for (uint32_t i = 0; i < mp.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

/* read_image imports fd as the image a describes, on the Vulkan device
 * whose UUIDs are a's, and copies its texels into px (w*h*4 bytes). It
 * takes fd. Returns 0 on success. */
static int read_image(const struct allocation *a, int fd, unsigned char *px)
{
    int ret = -1;
    VkInstance inst = VK_NULL_HANDLE;
    VkDevice dev = VK_NULL_HANDLE;
    VkImage image = VK_NULL_HANDLE;
    VkBuffer buf = VK_NULL_HANDLE;
    VkDeviceMemory image_mem = VK_NULL_HANDLE, buf_mem = VK_NULL_HANDLE;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    const VkDeviceSize bytes = (VkDeviceSize)a->width * a->height * 4;

    void *lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "c-client: dlopen(libvulkan.so.1): %s\n", dlerror());
        close(fd);
        return -1;
    }
    vkGetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
    if (!vkGetInstanceProcAddr) {
        fprintf(stderr, "c-client: libvulkan.so.1 has no vkGetInstanceProcAddr\n");
        goto out;
    }
    vkCreateInstance = (PFN_vkCreateInstance)vkGetInstanceProcAddr(NULL, "vkCreateInstance");
    vkEnumerateInstanceVersion = (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr(NULL, "vkEnumerateInstanceVersion");
    uint32_t version = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion)
        vkEnumerateInstanceVersion(&version);
    if (!vkCreateInstance || version < VK_API_VERSION_1_1) {
        fprintf(stderr, "c-client: the Vulkan loader offers version %u.%u; external memory needs 1.1\n",
                VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
        goto out;
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "glbridge c-client sample",
                             .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VK_CHECK(vkCreateInstance(&ici, NULL, &inst));
    INSTANCE_FNS(LOAD_INSTANCE)

    /* The physical device: the one whose driver and device UUIDs are the
     * record's, compared as whole 16-byte arrays (Mesa pads them with
     * zeros, so a string comparison would stop early). */
    VkPhysicalDevice pds[16];
    uint32_t npd = 16;
    VkResult r = vkEnumeratePhysicalDevices(inst, &npd, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        fprintf(stderr, "c-client: vkEnumeratePhysicalDevices: VkResult %d\n", (int)r);
        goto out;
    }
    VkPhysicalDeviceIDProperties idp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &idp};
    for (uint32_t i = 0; i < npd && !pd; i++) {
        vkGetPhysicalDeviceProperties2(pds[i], &props);
        if (props.properties.apiVersion >= VK_API_VERSION_1_1 &&
            memcmp(idp.driverUUID, a->driver_uuid, VK_UUID_SIZE) == 0 &&
            memcmp(idp.deviceUUID, a->device_uuid, VK_UUID_SIZE) == 0)
            pd = pds[i];
    }
    if (!pd) {
        fprintf(stderr, "c-client: none of the %u Vulkan devices has the record's UUIDs: memory passes only "
                        "between one driver on one device\n", npd);
        goto out;
    }
    printf("c-client: Vulkan device \"%s\" has the record's UUIDs\n", props.properties.deviceName);

    /* Any queue family with graphics or compute can copy. */
    VkQueueFamilyProperties qf[16];
    uint32_t nqf = 16, family = UINT32_MAX;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nqf, qf);
    for (uint32_t i = 0; i < nqf && family == UINT32_MAX; i++)
        if (qf[i].queueFlags & (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT))
            family = i;
    if (family == UINT32_MAX) {
        fprintf(stderr, "c-client: the device has no graphics or compute queue\n");
        goto out;
    }
    float priority = 1;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = family, .queueCount = 1, .pQueuePriorities = &priority};
    /* External memory and dedicated allocations are core in 1.1; the fd
     * handle type is an extension. */
    const char *exts[] = {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = 1, .ppEnabledExtensionNames = exts};
    VK_CHECK(vkCreateDevice(pd, &dci, NULL, &dev));
    DEVICE_FNS(LOAD_DEVICE)
    VkQueue queue;
    vkGetDeviceQueue(dev, family, 0, &queue);

    /* The image, created exactly as the exporter created it: format, usage,
     * flags and tiling from the record, external memory of the fd type. */
    VkExternalMemoryImageCreateInfo emi = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO,
                                           .handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkImageCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, .pNext = &emi,
        .flags = a->image_flags, .imageType = VK_IMAGE_TYPE_2D, .format = (VkFormat)a->vk_format,
        .extent = {a->width, a->height, 1}, .mipLevels = a->mip_levels,
        .arrayLayers = a->depth_or_array_size, .samples = (VkSampleCountFlagBits)a->sample_count,
        .tiling = (VkImageTiling)a->tiling, .usage = a->image_usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE, .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
    };
    VK_CHECK(vkCreateImage(dev, &ci, NULL, &image));
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(dev, image, &req);
    if (req.size > a->size) {
        fprintf(stderr, "c-client: the image needs %llu bytes but the shared allocation has %llu\n",
                (unsigned long long)req.size, (unsigned long long)a->size);
        goto out;
    }
    /* The exporter's memory type, on the same device, unless this image
     * cannot live there. */
    int type = (req.memoryTypeBits & (1u << a->memory_type_index)) ? (int)a->memory_type_index
                                                                    : memory_type(pd, req.memoryTypeBits, 0);
    if (type < 0) {
        fprintf(stderr, "c-client: no memory type for the image\n");
        goto out;
    }

    /* The import: VkImportMemoryFdInfoKHR, plus VkMemoryDedicatedAllocateInfo
     * when the exporter's allocation was dedicated (it must be mirrored).
     * A successful vkAllocateMemory owns the fd; on failure it is ours. */
    VkMemoryDedicatedAllocateInfo ded = {.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, .image = image};
    VkImportMemoryFdInfoKHR imp = {.sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR,
                                   .pNext = a->dedicated ? &ded : NULL,
                                   .handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT, .fd = fd};
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &imp,
                                .allocationSize = a->size, .memoryTypeIndex = (uint32_t)type};
    VK_CHECK(vkAllocateMemory(dev, &mai, NULL, &image_mem));
    fd = -1;
    VK_CHECK(vkBindImageMemory(dev, image, image_mem, a->offset));

    /* A host-visible buffer to copy the texels into. */
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
                              .usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VK_CHECK(vkCreateBuffer(dev, &bci, NULL, &buf));
    vkGetBufferMemoryRequirements(dev, buf, &req);
    type = memory_type(pd, req.memoryTypeBits,
                       VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (type < 0) {
        fprintf(stderr, "c-client: no host-visible, coherent memory type for the buffer\n");
        goto out;
    }
    VkMemoryAllocateInfo bai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    VK_CHECK(vkAllocateMemory(dev, &bai, NULL, &buf_mem));
    VK_CHECK(vkBindBufferMemory(dev, buf, buf_mem, 0));

    /* One command buffer: acquire the image from the external queue family
     * in glbridge's resting layout (GENERAL, see vkalloc), copy it out, and
     * release it back as it was found. */
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = family};
    VK_CHECK(vkCreateCommandPool(dev, &pci, NULL, &pool));
    VkCommandBufferAllocateInfo cbi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VkCommandBuffer cb;
    VK_CHECK(vkAllocateCommandBuffers(dev, &cbi, &cb));
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VK_CHECK(vkBeginCommandBuffer(cb, &begin));
    VkImageSubresourceRange range = {VK_IMAGE_ASPECT_COLOR_BIT, 0, a->mip_levels, 0, a->depth_or_array_size};
    VkImageMemoryBarrier acquire = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
        .oldLayout = VK_IMAGE_LAYOUT_GENERAL, .newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL, .dstQueueFamilyIndex = family,
        .image = image, .subresourceRange = range,
    };
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                         0, NULL, 0, NULL, 1, &acquire);
    VkBufferImageCopy region = {.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1},
                                .imageExtent = {a->width, a->height, 1}};
    vkCmdCopyImageToBuffer(cb, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buf, 1, &region);
    VkBufferMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT, .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = buf, .size = VK_WHOLE_SIZE,
    };
    VkImageMemoryBarrier release = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
        .oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, .newLayout = VK_IMAGE_LAYOUT_GENERAL,
        .srcQueueFamilyIndex = family, .dstQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL,
        .image = image, .subresourceRange = range,
    };
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0,
                         0, NULL, 1, &to_host, 0, NULL);
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0,
                         0, NULL, 0, NULL, 1, &release);
    VK_CHECK(vkEndCommandBuffer(cb));
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(dev, &fci, NULL, &fence));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    VK_CHECK(vkQueueSubmit(queue, 1, &si, fence));
    VK_CHECK(vkWaitForFences(dev, 1, &fence, VK_TRUE, 10ull * 1000 * 1000 * 1000));

    void *mapped;
    VK_CHECK(vkMapMemory(dev, buf_mem, 0, bytes, 0, &mapped));
    memcpy(px, mapped, bytes); /* freeing the memory unmaps it */
    printf("c-client: imported %llu bytes (%s) into VkImage %dx%d, VkFormat %u, and copied %llu bytes out\n",
           (unsigned long long)a->size, a->dedicated ? "dedicated" : "not dedicated",
           (int)a->width, (int)a->height, a->vk_format, (unsigned long long)bytes);
    ret = 0;
out:
    if (fd >= 0)
        close(fd);
    if (dev) {
        if (fence)
            vkDestroyFence(dev, fence, NULL);
        if (pool)
            vkDestroyCommandPool(dev, pool, NULL);
        if (buf)
            vkDestroyBuffer(dev, buf, NULL);
        if (buf_mem)
            vkFreeMemory(dev, buf_mem, NULL);
        if (image)
            vkDestroyImage(dev, image, NULL);
        if (image_mem)
            vkFreeMemory(dev, image_mem, NULL);
        vkDestroyDevice(dev, NULL);
    }
    if (inst)
        vkDestroyInstance(inst, NULL);
    dlclose(lib);
    return ret;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order in a pipe */
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET KMT FRAME\n"
                        "  opens the glbridge resource with KMT handle KMT through the broker at SOCKET\n"
                        "  and checks that it holds frame FRAME of glbridge's test pattern\n", argv[0]);
        return 2;
    }
    char *end;
    unsigned long kmt = strtoul(argv[2], &end, 0);
    if (*argv[2] == '\0' || *end != '\0' || kmt > UINT32_MAX) {
        fprintf(stderr, "c-client: KMT %s: want a 32-bit number such as 0x40400002\n", argv[2]);
        return 2;
    }
    long frame = strtol(argv[3], &end, 0);
    if (*argv[3] == '\0' || *end != '\0' || frame < 0 || frame > 65535) {
        fprintf(stderr, "c-client: FRAME %s: want a number from 0 to 65535\n", argv[3]);
        return 2;
    }

    struct allocation a;
    int fd = -1;
    if (open_kmt(argv[1], (uint32_t)kmt, &a, &fd) < 0)
        return 1;
    printf("c-client: opened KMT %#010x: %ux%u DXGI format %u, VkFormat %u, %llu bytes, ",
           (unsigned)kmt, a.width, a.height, a.dxgi_format, a.vk_format, (unsigned long long)a.size);
    print_uuid("driver ", a.driver_uuid);
    print_uuid(", device ", a.device_uuid);
    printf("\n");
    /* The pattern is RGBA8; a renderer would handle every format it knows. */
    if (a.host_memory ? a.dimension != GLB_DIMENSION_TEXTURE2D || a.dxgi_format != GLB_DXGI_FORMAT_R8G8B8A8_UNORM ||
                            a.sample_count != 1 || a.size < (uint64_t)a.width * a.height * 4
                      : a.dimension != GLB_DIMENSION_TEXTURE2D || a.vk_format != VK_FORMAT_R8G8B8A8_UNORM ||
                            a.sample_count != 1 || !(a.image_usage & VK_IMAGE_USAGE_TRANSFER_SRC_BIT)) {
        fprintf(stderr, "c-client: this sample checks single-sampled R8G8B8A8 2D textures it can copy from; "
                        "the record has dimension %u, VkFormat %u, %u samples, usage %#x\n",
                a.dimension, a.vk_format, a.sample_count, a.image_usage);
        close(fd);
        return 1;
    }

    size_t bytes = (size_t)a.width * a.height * 4;
    unsigned char *got = malloc(bytes), *want = malloc(bytes);
    if (!got || !want) {
        fprintf(stderr, "c-client: out of memory\n");
        close(fd);
        return 1;
    }
    if (a.host_memory) {
        /* The copy path: host memory, a sealed memfd in the layout
         * docs/protocol.md gives. Level 0 of layer 0 comes first, rows of
         * texels tightly packed, the top row first: what a Vulkan renderer
         * uploads into an image of its own with vkCmdCopyBufferToImage. */
        void *mem = mmap(NULL, (size_t)a.size, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (mem == MAP_FAILED) {
            fprintf(stderr, "c-client: mmap of %llu bytes of host memory: %s\n", (unsigned long long)a.size, strerror(errno));
            return 1;
        }
        memcpy(got, mem, bytes);
        munmap(mem, (size_t)a.size);
        printf("c-client: read the texels from host memory (the copy path)\n");
    } else if (read_image(&a, fd, got) < 0) {
        return 1;
    }
    expected_pattern(want, (int)a.width, (int)a.height, (int)frame);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < bytes; i += 4)
        if (memcmp(got + i, want + i, 4) != 0 && bad++ == 0)
            first = i;
    if (bad) {
        size_t t = first / 4;
        fprintf(stderr, "c-client: MISMATCH: %zu of %zu texels differ from frame %ld of the test pattern; "
                        "the first, (%zu,%zu), is %u,%u,%u,%u, want %u,%u,%u,%u\n",
                bad, bytes / 4, frame, t % a.width, t / a.width,
                got[first], got[first + 1], got[first + 2], got[first + 3],
                want[first], want[first + 1], want[first + 2], want[first + 3]);
        return 1;
    }
    printf("OK: all %zu texels of KMT %#010x are frame %ld of the test pattern\n", bytes / 4, (unsigned)kmt, frame);
    free(got);
    free(want);
    return 0;
}
