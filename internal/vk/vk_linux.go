//go:build linux

package vk

/*
#cgo LDFLAGS: -ldl
#define VK_NO_PROTOTYPES 1
// Non-dispatchable handles as uint64_t, so they convert to Go integers
// without laundering pointers through unsafe.
#define VK_USE_64_BIT_PTR_DEFINES 0
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

// The loader is opened by its versioned soname: libvulkan.so (unversioned)
// exists only where the -dev package is installed.
static PFN_vkGetInstanceProcAddr loadLoader(char **err) {
	void *lib = dlopen("libvulkan.so.1", RTLD_NOW|RTLD_LOCAL);
	if (lib == NULL) {
		*err = dlerror();
		return NULL;
	}
	PFN_vkGetInstanceProcAddr gipa = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
	if (gipa == NULL) {
		*err = dlerror();
	}
	return gipa;
}

static PFN_vkGetInstanceProcAddr gipa;

static void setLoader(PFN_vkGetInstanceProcAddr f) { gipa = f; }

// Function tables live in C memory, one per instance and one per device, so
// that several instances (the helper device and a consumer device) coexist.
typedef struct {
	VkInstance instance;
	PFN_vkDestroyInstance destroyInstance;
	PFN_vkEnumeratePhysicalDevices enumeratePhysicalDevices;
	PFN_vkGetPhysicalDeviceProperties2 getPhysicalDeviceProperties2;
	PFN_vkGetPhysicalDeviceQueueFamilyProperties getPhysicalDeviceQueueFamilyProperties;
	PFN_vkGetPhysicalDeviceMemoryProperties getPhysicalDeviceMemoryProperties;
	PFN_vkEnumerateDeviceExtensionProperties enumerateDeviceExtensionProperties;
	PFN_vkGetPhysicalDeviceImageFormatProperties2 getPhysicalDeviceImageFormatProperties2;
	PFN_vkGetPhysicalDeviceFormatProperties getPhysicalDeviceFormatProperties;
	PFN_vkGetPhysicalDeviceExternalBufferProperties getPhysicalDeviceExternalBufferProperties;
	PFN_vkGetPhysicalDeviceExternalSemaphoreProperties getPhysicalDeviceExternalSemaphoreProperties;
	PFN_vkGetPhysicalDeviceFeatures2 getPhysicalDeviceFeatures2;
	PFN_vkCreateDevice createDevice;
	PFN_vkGetDeviceProcAddr getDeviceProcAddr;
} instFuncs;

typedef struct {
	VkDevice device;
	PFN_vkDestroyDevice destroyDevice;
	PFN_vkGetDeviceQueue getDeviceQueue;
	PFN_vkDeviceWaitIdle deviceWaitIdle;
	PFN_vkQueueWaitIdle queueWaitIdle;
	PFN_vkQueueSubmit queueSubmit;
	PFN_vkCreateImage createImage;
	PFN_vkDestroyImage destroyImage;
	PFN_vkCreateBuffer createBuffer;
	PFN_vkDestroyBuffer destroyBuffer;
	PFN_vkGetImageMemoryRequirements2 getImageMemoryRequirements2;
	PFN_vkGetBufferMemoryRequirements2 getBufferMemoryRequirements2;
	PFN_vkAllocateMemory allocateMemory;
	PFN_vkFreeMemory freeMemory;
	PFN_vkBindImageMemory bindImageMemory;
	PFN_vkBindBufferMemory bindBufferMemory;
	PFN_vkMapMemory mapMemory;
	PFN_vkUnmapMemory unmapMemory;
	PFN_vkGetMemoryFdKHR getMemoryFdKHR;
	PFN_vkGetMemoryFdPropertiesKHR getMemoryFdPropertiesKHR;
	PFN_vkCreateCommandPool createCommandPool;
	PFN_vkDestroyCommandPool destroyCommandPool;
	PFN_vkAllocateCommandBuffers allocateCommandBuffers;
	PFN_vkFreeCommandBuffers freeCommandBuffers;
	PFN_vkResetCommandBuffer resetCommandBuffer;
	PFN_vkBeginCommandBuffer beginCommandBuffer;
	PFN_vkEndCommandBuffer endCommandBuffer;
	PFN_vkCmdPipelineBarrier cmdPipelineBarrier;
	PFN_vkCmdClearColorImage cmdClearColorImage;
	PFN_vkCmdClearDepthStencilImage cmdClearDepthStencilImage;
	PFN_vkCmdCopyImageToBuffer cmdCopyImageToBuffer;
	PFN_vkCmdCopyBufferToImage cmdCopyBufferToImage;
	PFN_vkCmdCopyBuffer cmdCopyBuffer;
	PFN_vkCmdBlitImage cmdBlitImage;
	PFN_vkCmdCopyImage cmdCopyImage;
	PFN_vkCmdResolveImage cmdResolveImage;
	PFN_vkCreateFence createFence;
	PFN_vkDestroyFence destroyFence;
	PFN_vkWaitForFences waitForFences;
	PFN_vkResetFences resetFences;
	PFN_vkGetFenceStatus getFenceStatus;
	PFN_vkCreateSemaphore createSemaphore;
	PFN_vkDestroySemaphore destroySemaphore;
	PFN_vkGetSemaphoreFdKHR getSemaphoreFdKHR;
	PFN_vkImportSemaphoreFdKHR importSemaphoreFdKHR;
	PFN_vkWaitSemaphores waitSemaphores;
	PFN_vkSignalSemaphore signalSemaphore;
	PFN_vkGetSemaphoreCounterValue getSemaphoreCounterValue;
} devFuncs;

static PFN_vkVoidFunction gpa(const char *name) {
	return gipa(NULL, name);
}

static VkResult enumerateInstanceVersion(uint32_t *v) {
	PFN_vkEnumerateInstanceVersion f = (PFN_vkEnumerateInstanceVersion)gpa("vkEnumerateInstanceVersion");
	if (f == NULL) {
		*v = VK_API_VERSION_1_0;
		return VK_SUCCESS;
	}
	return f(v);
}

static VkResult enumerateInstanceExtensionProperties(uint32_t *n, VkExtensionProperties *p) {
	PFN_vkEnumerateInstanceExtensionProperties f = (PFN_vkEnumerateInstanceExtensionProperties)gpa("vkEnumerateInstanceExtensionProperties");
	return f(NULL, n, p);
}

static VkResult loadInstance(VkInstance inst, instFuncs **out);

static VkResult createInstance(VkInstanceCreateInfo inf, VkApplicationInfo app, const char **exts, uint32_t nexts, instFuncs **out) {
	PFN_vkCreateInstance create = (PFN_vkCreateInstance)gpa("vkCreateInstance");
	if (create == NULL) {
		return VK_ERROR_INITIALIZATION_FAILED;
	}
	inf.pApplicationInfo = &app;
	inf.ppEnabledExtensionNames = exts;
	inf.enabledExtensionCount = nexts;
	VkInstance inst;
	VkResult r = create(&inf, NULL, &inst);
	if (r != VK_SUCCESS) {
		return r;
	}
	return loadInstance(inst, out);
}

// loadInstance fills a function table for inst, created by glbridge or by
// the caller.
static VkResult loadInstance(VkInstance inst, instFuncs **out) {
	instFuncs *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	f->instance = inst;
#define L(field, name) f->field = (PFN_##name)gipa(inst, #name)
	L(destroyInstance, vkDestroyInstance);
	L(enumeratePhysicalDevices, vkEnumeratePhysicalDevices);
	L(getPhysicalDeviceProperties2, vkGetPhysicalDeviceProperties2);
	if (f->getPhysicalDeviceProperties2 == NULL) f->getPhysicalDeviceProperties2 = (PFN_vkGetPhysicalDeviceProperties2)gipa(inst, "vkGetPhysicalDeviceProperties2KHR");
	L(getPhysicalDeviceQueueFamilyProperties, vkGetPhysicalDeviceQueueFamilyProperties);
	L(getPhysicalDeviceMemoryProperties, vkGetPhysicalDeviceMemoryProperties);
	L(enumerateDeviceExtensionProperties, vkEnumerateDeviceExtensionProperties);
	L(getPhysicalDeviceImageFormatProperties2, vkGetPhysicalDeviceImageFormatProperties2);
	if (f->getPhysicalDeviceImageFormatProperties2 == NULL) f->getPhysicalDeviceImageFormatProperties2 = (PFN_vkGetPhysicalDeviceImageFormatProperties2)gipa(inst, "vkGetPhysicalDeviceImageFormatProperties2KHR");
	L(getPhysicalDeviceFormatProperties, vkGetPhysicalDeviceFormatProperties);
	L(getPhysicalDeviceExternalBufferProperties, vkGetPhysicalDeviceExternalBufferProperties);
	L(getPhysicalDeviceExternalSemaphoreProperties, vkGetPhysicalDeviceExternalSemaphoreProperties);
	L(getPhysicalDeviceFeatures2, vkGetPhysicalDeviceFeatures2);
	L(createDevice, vkCreateDevice);
	L(getDeviceProcAddr, vkGetDeviceProcAddr);
#undef L
	*out = f;
	return VK_SUCCESS;
}

static void destroyInstance(instFuncs *f) {
	f->destroyInstance(f->instance, NULL);
	free(f);
}

static VkResult enumeratePhysicalDevices(instFuncs *f, uint32_t *n, VkPhysicalDevice *p) {
	return f->enumeratePhysicalDevices(f->instance, n, p);
}

// The properties the helper device needs come in one chain: base
// properties and VkPhysicalDeviceIDProperties (the UUIDs).
static void getPhysicalDeviceIDProperties(instFuncs *f, VkPhysicalDevice pd, VkPhysicalDeviceProperties *props, VkPhysicalDeviceIDProperties *id, VkPhysicalDeviceDriverProperties *drv, int wantDriver) {
	VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
	id->sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES;
	id->pNext = NULL;
	p2.pNext = id;
	if (wantDriver) {
		drv->sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
		drv->pNext = NULL;
		id->pNext = drv;
	}
	f->getPhysicalDeviceProperties2(pd, &p2);
	*props = p2.properties;
	id->pNext = NULL;
	if (wantDriver) drv->pNext = NULL;
}

static void getPhysicalDeviceQueueFamilyProperties(instFuncs *f, VkPhysicalDevice pd, uint32_t *n, VkQueueFamilyProperties *p) {
	f->getPhysicalDeviceQueueFamilyProperties(pd, n, p);
}

static void getPhysicalDeviceMemoryProperties(instFuncs *f, VkPhysicalDevice pd, VkPhysicalDeviceMemoryProperties *p) {
	f->getPhysicalDeviceMemoryProperties(pd, p);
}

static VkResult enumerateDeviceExtensionProperties(instFuncs *f, VkPhysicalDevice pd, uint32_t *n, VkExtensionProperties *p) {
	return f->enumerateDeviceExtensionProperties(pd, NULL, n, p);
}

static void getPhysicalDeviceFormatProperties(instFuncs *f, VkPhysicalDevice pd, VkFormat fmt, VkFormatProperties *p) {
	f->getPhysicalDeviceFormatProperties(pd, fmt, p);
}

static int hasTimelineFeature(instFuncs *f, VkPhysicalDevice pd) {
	if (f->getPhysicalDeviceFeatures2 == NULL) return 0;
	VkPhysicalDeviceTimelineSemaphoreFeatures tl = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES};
	VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &tl};
	f->getPhysicalDeviceFeatures2(pd, &f2);
	return tl.timelineSemaphore;
}

// The external image query: VkPhysicalDeviceExternalImageFormatInfo on the
// input, VkExternalImageFormatProperties on the output.
static VkResult getExternalImageFormatProperties(instFuncs *f, VkPhysicalDevice pd, VkPhysicalDeviceImageFormatInfo2 info, VkExternalMemoryHandleTypeFlagBits handleType, VkImageFormatProperties *props, VkExternalMemoryProperties *ext) {
	VkPhysicalDeviceExternalImageFormatInfo einfo = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO, .handleType = handleType};
	info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2;
	info.pNext = &einfo;
	VkExternalImageFormatProperties eprops = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES};
	VkImageFormatProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2, .pNext = &eprops};
	VkResult r = f->getPhysicalDeviceImageFormatProperties2(pd, &info, &p2);
	*props = p2.imageFormatProperties;
	*ext = eprops.externalMemoryProperties;
	return r;
}

static void getExternalBufferProperties(instFuncs *f, VkPhysicalDevice pd, VkBufferCreateFlags flags, VkBufferUsageFlags usage, VkExternalMemoryHandleTypeFlagBits handleType, VkExternalMemoryProperties *ext) {
	VkPhysicalDeviceExternalBufferInfo info = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO, .flags = flags, .usage = usage, .handleType = handleType};
	VkExternalBufferProperties p = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES};
	f->getPhysicalDeviceExternalBufferProperties(pd, &info, &p);
	*ext = p.externalMemoryProperties;
}

static void getExternalSemaphoreProperties(instFuncs *f, VkPhysicalDevice pd, VkExternalSemaphoreHandleTypeFlagBits handleType, int timeline, VkExternalSemaphoreFeatureFlags *features) {
	*features = 0;
	if (f->getPhysicalDeviceExternalSemaphoreProperties == NULL) return;
	VkSemaphoreTypeCreateInfo tinfo = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE};
	VkPhysicalDeviceExternalSemaphoreInfo info = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_SEMAPHORE_INFO, .handleType = handleType};
	if (timeline) info.pNext = &tinfo;
	VkExternalSemaphoreProperties p = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_SEMAPHORE_PROPERTIES};
	f->getPhysicalDeviceExternalSemaphoreProperties(pd, &info, &p);
	*features = p.externalSemaphoreFeatures;
}

static VkResult loadDevice(instFuncs *f, VkDevice dev, devFuncs **out);

static VkResult createDevice(instFuncs *f, VkPhysicalDevice pd, uint32_t queueFamily, const char **exts, uint32_t nexts, int timeline, devFuncs **out) {
	float prio = 1.0f;
	VkDeviceQueueCreateInfo q = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = queueFamily, .queueCount = 1, .pQueuePriorities = &prio};
	VkPhysicalDeviceTimelineSemaphoreFeatures tl = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES, .timelineSemaphore = VK_TRUE};
	VkDeviceCreateInfo inf = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &q, .enabledExtensionCount = nexts, .ppEnabledExtensionNames = exts};
	if (timeline) inf.pNext = &tl;
	VkDevice dev;
	VkResult r = f->createDevice(pd, &inf, NULL, &dev);
	if (r != VK_SUCCESS) return r;
	return loadDevice(f, dev, out);
}

// loadDevice fills a function table for dev, created by glbridge or by the
// caller.
static VkResult loadDevice(instFuncs *f, VkDevice dev, devFuncs **out) {
	devFuncs *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	d->device = dev;
#define L(field, name) d->field = (PFN_##name)f->getDeviceProcAddr(dev, #name)
#define LK(field, name) L(field, name); if (d->field == NULL) d->field = (PFN_##name)f->getDeviceProcAddr(dev, #name "KHR")
	L(destroyDevice, vkDestroyDevice);
	L(getDeviceQueue, vkGetDeviceQueue);
	L(deviceWaitIdle, vkDeviceWaitIdle);
	L(queueWaitIdle, vkQueueWaitIdle);
	L(queueSubmit, vkQueueSubmit);
	L(createImage, vkCreateImage);
	L(destroyImage, vkDestroyImage);
	L(createBuffer, vkCreateBuffer);
	L(destroyBuffer, vkDestroyBuffer);
	LK(getImageMemoryRequirements2, vkGetImageMemoryRequirements2);
	LK(getBufferMemoryRequirements2, vkGetBufferMemoryRequirements2);
	L(allocateMemory, vkAllocateMemory);
	L(freeMemory, vkFreeMemory);
	L(bindImageMemory, vkBindImageMemory);
	L(bindBufferMemory, vkBindBufferMemory);
	L(mapMemory, vkMapMemory);
	L(unmapMemory, vkUnmapMemory);
	L(getMemoryFdKHR, vkGetMemoryFdKHR);
	L(getMemoryFdPropertiesKHR, vkGetMemoryFdPropertiesKHR);
	L(createCommandPool, vkCreateCommandPool);
	L(destroyCommandPool, vkDestroyCommandPool);
	L(allocateCommandBuffers, vkAllocateCommandBuffers);
	L(freeCommandBuffers, vkFreeCommandBuffers);
	L(resetCommandBuffer, vkResetCommandBuffer);
	L(beginCommandBuffer, vkBeginCommandBuffer);
	L(endCommandBuffer, vkEndCommandBuffer);
	L(cmdPipelineBarrier, vkCmdPipelineBarrier);
	L(cmdClearColorImage, vkCmdClearColorImage);
	L(cmdClearDepthStencilImage, vkCmdClearDepthStencilImage);
	L(cmdCopyImageToBuffer, vkCmdCopyImageToBuffer);
	L(cmdCopyBufferToImage, vkCmdCopyBufferToImage);
	L(cmdCopyBuffer, vkCmdCopyBuffer);
	L(cmdBlitImage, vkCmdBlitImage);
	L(cmdCopyImage, vkCmdCopyImage);
	L(cmdResolveImage, vkCmdResolveImage);
	L(createFence, vkCreateFence);
	L(destroyFence, vkDestroyFence);
	L(waitForFences, vkWaitForFences);
	L(resetFences, vkResetFences);
	L(getFenceStatus, vkGetFenceStatus);
	L(createSemaphore, vkCreateSemaphore);
	L(destroySemaphore, vkDestroySemaphore);
	L(getSemaphoreFdKHR, vkGetSemaphoreFdKHR);
	L(importSemaphoreFdKHR, vkImportSemaphoreFdKHR);
	LK(waitSemaphores, vkWaitSemaphores);
	LK(signalSemaphore, vkSignalSemaphore);
	LK(getSemaphoreCounterValue, vkGetSemaphoreCounterValue);
#undef LK
#undef L
	*out = d;
	return VK_SUCCESS;
}

static void destroyDevice(devFuncs *d) {
	d->destroyDevice(d->device, NULL);
	free(d);
}

// A caller's instance and device outlive glbridge's use of them: only the
// tables are freed.
static void freeInstanceTable(instFuncs *f) { free(f); }

// A caller's dispatchable handles arrive as integers; Go may not turn an
// integer into a pointer, so C does.
static VkInstance instanceOf(uintptr_t h) { return (VkInstance)h; }
static VkPhysicalDevice physicalDeviceOf(uintptr_t h) { return (VkPhysicalDevice)h; }
static VkDevice deviceOf(uintptr_t h) { return (VkDevice)h; }
static void freeDeviceTable(devFuncs *d) { free(d); }

static VkQueue getDeviceQueueAt(devFuncs *d, uint32_t family, uint32_t index) {
	VkQueue q;
	d->getDeviceQueue(d->device, family, index, &q);
	return q;
}

static VkResult deviceWaitIdle(devFuncs *d) { return d->deviceWaitIdle(d->device); }
static VkResult queueWaitIdle(devFuncs *d, VkQueue q) { return d->queueWaitIdle(q); }

// createImage links the external-memory info (and, for mutable-format
// images, nothing else: the format list is optional) into the create info.
static VkResult createImage(devFuncs *d, VkImageCreateInfo inf, VkExternalMemoryHandleTypeFlags handleTypes, VkImage *img) {
	VkExternalMemoryImageCreateInfo ext = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO, .handleTypes = handleTypes};
	inf.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO;
	inf.pNext = handleTypes ? &ext : NULL;
	inf.queueFamilyIndexCount = 0;
	inf.pQueueFamilyIndices = NULL;
	return d->createImage(d->device, &inf, NULL, img);
}

static void destroyImage(devFuncs *d, VkImage img) { d->destroyImage(d->device, img, NULL); }

static VkResult createBuffer(devFuncs *d, VkBufferCreateInfo inf, VkExternalMemoryHandleTypeFlags handleTypes, VkBuffer *buf) {
	VkExternalMemoryBufferCreateInfo ext = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, .handleTypes = handleTypes};
	inf.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
	inf.pNext = handleTypes ? &ext : NULL;
	inf.queueFamilyIndexCount = 0;
	inf.pQueueFamilyIndices = NULL;
	return d->createBuffer(d->device, &inf, NULL, buf);
}

static void destroyBuffer(devFuncs *d, VkBuffer buf) { d->destroyBuffer(d->device, buf, NULL); }

static void getImageMemoryRequirements(devFuncs *d, VkImage img, VkMemoryRequirements *req, VkBool32 *prefersDedicated, VkBool32 *requiresDedicated) {
	VkMemoryDedicatedRequirements ded = {.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS};
	VkMemoryRequirements2 r2 = {.sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2, .pNext = &ded};
	VkImageMemoryRequirementsInfo2 info = {.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_REQUIREMENTS_INFO_2, .image = img};
	d->getImageMemoryRequirements2(d->device, &info, &r2);
	*req = r2.memoryRequirements;
	*prefersDedicated = ded.prefersDedicatedAllocation;
	*requiresDedicated = ded.requiresDedicatedAllocation;
}

static void getBufferMemoryRequirements(devFuncs *d, VkBuffer buf, VkMemoryRequirements *req, VkBool32 *prefersDedicated, VkBool32 *requiresDedicated) {
	VkMemoryDedicatedRequirements ded = {.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS};
	VkMemoryRequirements2 r2 = {.sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2, .pNext = &ded};
	VkBufferMemoryRequirementsInfo2 info = {.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_REQUIREMENTS_INFO_2, .buffer = buf};
	d->getBufferMemoryRequirements2(d->device, &info, &r2);
	*req = r2.memoryRequirements;
	*prefersDedicated = ded.prefersDedicatedAllocation;
	*requiresDedicated = ded.requiresDedicatedAllocation;
}

// allocateMemory builds the whole allocation chain: export info when
// exportTypes is set, fd import info when importFd >= 0, dedicated info when
// an image or buffer is given.
static VkResult allocateMemory(devFuncs *d, VkDeviceSize size, uint32_t typeIndex, VkExternalMemoryHandleTypeFlags exportTypes, int importFd, VkExternalMemoryHandleTypeFlagBits importType, VkImage dedImage, VkBuffer dedBuffer, VkDeviceMemory *mem) {
	VkMemoryAllocateInfo inf = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = size, .memoryTypeIndex = typeIndex};
	VkExportMemoryAllocateInfo exp = {.sType = VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, .handleTypes = exportTypes};
	VkImportMemoryFdInfoKHR imp = {.sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, .handleType = importType, .fd = importFd};
	VkMemoryDedicatedAllocateInfo ded = {.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, .image = dedImage, .buffer = dedBuffer};
	const void **next = &inf.pNext;
	if (exportTypes) { *next = &exp; next = &exp.pNext; }
	if (importFd >= 0) { *next = &imp; next = &imp.pNext; }
	if (dedImage != VK_NULL_HANDLE || dedBuffer != VK_NULL_HANDLE) { *next = &ded; next = &ded.pNext; }
	return d->allocateMemory(d->device, &inf, NULL, mem);
}

static void freeMemory(devFuncs *d, VkDeviceMemory mem) { d->freeMemory(d->device, mem, NULL); }
static VkResult bindImageMemory(devFuncs *d, VkImage img, VkDeviceMemory mem, VkDeviceSize off) { return d->bindImageMemory(d->device, img, mem, off); }
static VkResult bindBufferMemory(devFuncs *d, VkBuffer buf, VkDeviceMemory mem, VkDeviceSize off) { return d->bindBufferMemory(d->device, buf, mem, off); }

static VkResult mapMemory(devFuncs *d, VkDeviceMemory mem, VkDeviceSize off, VkDeviceSize size, void **p) {
	return d->mapMemory(d->device, mem, off, size, 0, p);
}
static void unmapMemory(devFuncs *d, VkDeviceMemory mem) { d->unmapMemory(d->device, mem); }

static VkResult getMemoryFd(devFuncs *d, VkDeviceMemory mem, VkExternalMemoryHandleTypeFlagBits t, int *fd) {
	VkMemoryGetFdInfoKHR inf = {.sType = VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, .memory = mem, .handleType = t};
	return d->getMemoryFdKHR(d->device, &inf, fd);
}

static VkResult createCommandPool(devFuncs *d, uint32_t family, VkCommandPool *pool) {
	VkCommandPoolCreateInfo inf = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, .queueFamilyIndex = family};
	return d->createCommandPool(d->device, &inf, NULL, pool);
}
static void destroyCommandPool(devFuncs *d, VkCommandPool pool) { d->destroyCommandPool(d->device, pool, NULL); }

static VkResult allocateCommandBuffer(devFuncs *d, VkCommandPool pool, VkCommandBuffer *cb) {
	VkCommandBufferAllocateInfo inf = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
	return d->allocateCommandBuffers(d->device, &inf, cb);
}
static void freeCommandBuffer(devFuncs *d, VkCommandPool pool, VkCommandBuffer cb) { d->freeCommandBuffers(d->device, pool, 1, &cb); }

static VkResult beginCommandBuffer(devFuncs *d, VkCommandBuffer cb) {
	VkResult r = d->resetCommandBuffer(cb, 0);
	if (r != VK_SUCCESS) return r;
	VkCommandBufferBeginInfo inf = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
	return d->beginCommandBuffer(cb, &inf);
}
static VkResult endCommandBuffer(devFuncs *d, VkCommandBuffer cb) { return d->endCommandBuffer(cb); }

static void cmdImageBarrier(devFuncs *d, VkCommandBuffer cb, VkPipelineStageFlags src, VkPipelineStageFlags dst, VkImageMemoryBarrier b) {
	b.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER;
	b.pNext = NULL;
	d->cmdPipelineBarrier(cb, src, dst, 0, 0, NULL, 0, NULL, 1, &b);
}

static void cmdBufferBarrier(devFuncs *d, VkCommandBuffer cb, VkPipelineStageFlags src, VkPipelineStageFlags dst, VkBufferMemoryBarrier b) {
	b.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER;
	b.pNext = NULL;
	d->cmdPipelineBarrier(cb, src, dst, 0, 0, NULL, 1, &b, 0, NULL);
}

static void cmdClearColorImage(devFuncs *d, VkCommandBuffer cb, VkImage img, VkImageLayout layout, VkClearColorValue c, VkImageSubresourceRange r) {
	d->cmdClearColorImage(cb, img, layout, &c, 1, &r);
}

static void cmdClearDepthStencilImage(devFuncs *d, VkCommandBuffer cb, VkImage img, VkImageLayout layout, VkClearDepthStencilValue c, VkImageSubresourceRange r) {
	d->cmdClearDepthStencilImage(cb, img, layout, &c, 1, &r);
}

static void cmdCopyImageToBuffer(devFuncs *d, VkCommandBuffer cb, VkImage img, VkImageLayout layout, VkBuffer buf, VkBufferImageCopy r) {
	d->cmdCopyImageToBuffer(cb, img, layout, buf, 1, &r);
}

static void cmdCopyBufferToImage(devFuncs *d, VkCommandBuffer cb, VkBuffer buf, VkImage img, VkImageLayout layout, VkBufferImageCopy r) {
	d->cmdCopyBufferToImage(cb, buf, img, layout, 1, &r);
}

static void cmdCopyBuffer(devFuncs *d, VkCommandBuffer cb, VkBuffer src, VkBuffer dst, VkBufferCopy r) {
	d->cmdCopyBuffer(cb, src, dst, 1, &r);
}

static void cmdBlitImage(devFuncs *d, VkCommandBuffer cb, VkImage src, VkImageLayout srcLayout, VkImage dst, VkImageLayout dstLayout, VkImageBlit r, VkFilter filter) {
	d->cmdBlitImage(cb, src, srcLayout, dst, dstLayout, 1, &r, filter);
}

static void cmdCopyImage(devFuncs *d, VkCommandBuffer cb, VkImage src, VkImageLayout srcLayout, VkImage dst, VkImageLayout dstLayout, VkImageCopy r) {
	d->cmdCopyImage(cb, src, srcLayout, dst, dstLayout, 1, &r);
}

static void cmdResolveImage(devFuncs *d, VkCommandBuffer cb, VkImage src, VkImageLayout srcLayout, VkImage dst, VkImageLayout dstLayout, VkImageResolve r) {
	d->cmdResolveImage(cb, src, srcLayout, dst, dstLayout, 1, &r);
}

// queueSubmit submits one command buffer (or none), waiting on and
// signalling at most a few semaphores; timeline values are chained in when
// given. The arrays are C memory owned by the Go caller's cgo frame.
static VkResult queueSubmit(devFuncs *d, VkQueue q, VkCommandBuffer cb, uint32_t nwait, VkSemaphore *wait, VkPipelineStageFlags *waitStages, uint64_t *waitValues, uint32_t nsignal, VkSemaphore *signal, uint64_t *signalValues, VkFence fence) {
	VkTimelineSemaphoreSubmitInfo tl = {.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
		.waitSemaphoreValueCount = waitValues ? nwait : 0, .pWaitSemaphoreValues = waitValues,
		.signalSemaphoreValueCount = signalValues ? nsignal : 0, .pSignalSemaphoreValues = signalValues};
	VkSubmitInfo s = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .waitSemaphoreCount = nwait, .pWaitSemaphores = wait, .pWaitDstStageMask = waitStages,
		.commandBufferCount = cb ? 1 : 0, .pCommandBuffers = &cb, .signalSemaphoreCount = nsignal, .pSignalSemaphores = signal};
	if (waitValues || signalValues) s.pNext = &tl;
	return d->queueSubmit(q, 1, &s, fence);
}

static VkResult createFence(devFuncs *d, VkFence *f) {
	VkFenceCreateInfo inf = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
	return d->createFence(d->device, &inf, NULL, f);
}
static void destroyFence(devFuncs *d, VkFence f) { d->destroyFence(d->device, f, NULL); }
static VkResult waitForFence(devFuncs *d, VkFence f, uint64_t timeout) { return d->waitForFences(d->device, 1, &f, VK_TRUE, timeout); }
static VkResult resetFence(devFuncs *d, VkFence f) { return d->resetFences(d->device, 1, &f); }
static VkResult getFenceStatus(devFuncs *d, VkFence f) { return d->getFenceStatus(d->device, f); }

static VkResult createSemaphore(devFuncs *d, VkExternalSemaphoreHandleTypeFlags exportTypes, int timeline, uint64_t initial, VkSemaphore *s) {
	VkExportSemaphoreCreateInfo exp = {.sType = VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO, .handleTypes = exportTypes};
	VkSemaphoreTypeCreateInfo tl = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE, .initialValue = initial};
	VkSemaphoreCreateInfo inf = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
	const void **next = &inf.pNext;
	if (exportTypes) { *next = &exp; next = &exp.pNext; }
	if (timeline) { *next = &tl; next = &tl.pNext; }
	return d->createSemaphore(d->device, &inf, NULL, s);
}
static void destroySemaphore(devFuncs *d, VkSemaphore s) { d->destroySemaphore(d->device, s, NULL); }

static VkResult getSemaphoreFd(devFuncs *d, VkSemaphore s, VkExternalSemaphoreHandleTypeFlagBits t, int *fd) {
	if (d->getSemaphoreFdKHR == NULL) return VK_ERROR_EXTENSION_NOT_PRESENT;
	VkSemaphoreGetFdInfoKHR inf = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR, .semaphore = s, .handleType = t};
	return d->getSemaphoreFdKHR(d->device, &inf, fd);
}

static VkResult importSemaphoreFd(devFuncs *d, VkSemaphore s, VkExternalSemaphoreHandleTypeFlagBits t, VkSemaphoreImportFlags flags, int fd) {
	if (d->importSemaphoreFdKHR == NULL) return VK_ERROR_EXTENSION_NOT_PRESENT;
	VkImportSemaphoreFdInfoKHR inf = {.sType = VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR, .semaphore = s, .flags = flags, .handleType = t, .fd = fd};
	return d->importSemaphoreFdKHR(d->device, &inf);
}

static VkResult waitSemaphore(devFuncs *d, VkSemaphore s, uint64_t value, uint64_t timeout) {
	if (d->waitSemaphores == NULL) return VK_ERROR_EXTENSION_NOT_PRESENT;
	VkSemaphoreWaitInfo inf = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, .semaphoreCount = 1, .pSemaphores = &s, .pValues = &value};
	return d->waitSemaphores(d->device, &inf, timeout);
}

static VkResult signalSemaphore(devFuncs *d, VkSemaphore s, uint64_t value) {
	if (d->signalSemaphore == NULL) return VK_ERROR_EXTENSION_NOT_PRESENT;
	VkSemaphoreSignalInfo inf = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, .semaphore = s, .value = value};
	return d->signalSemaphore(d->device, &inf);
}

static VkResult getSemaphoreCounterValue(devFuncs *d, VkSemaphore s, uint64_t *v) {
	if (d->getSemaphoreCounterValue == NULL) return VK_ERROR_EXTENSION_NOT_PRESENT;
	return d->getSemaphoreCounterValue(d->device, s, v);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

var loadOnce struct {
	sync.Once
	err error
}

// Load opens the Vulkan loader (libvulkan.so.1). It is called by
// CreateInstance and needs no explicit call; it is exported so that tools
// can report a missing loader without creating an instance.
func Load() error {
	loadOnce.Do(func() {
		var cerr *C.char
		f := C.loadLoader(&cerr)
		if f == nil {
			loadOnce.err = fmt.Errorf("vk: dlopen libvulkan.so.1: %s", C.GoString(cerr))
			return
		}
		C.setLoader(f)
	})
	return loadOnce.err
}

// InstanceVersion returns the loader's instance-level API version.
func InstanceVersion() (uint32, error) {
	if err := Load(); err != nil {
		return 0, err
	}
	var v C.uint32_t
	if r := C.enumerateInstanceVersion(&v); r != C.VK_SUCCESS {
		return 0, newError("vkEnumerateInstanceVersion", r)
	}
	return uint32(v), nil
}

// InstanceExtensions lists the instance extensions the loader offers.
func InstanceExtensions() ([]string, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	var n C.uint32_t
	if r := C.enumerateInstanceExtensionProperties(&n, nil); r != C.VK_SUCCESS {
		return nil, newError("vkEnumerateInstanceExtensionProperties", r)
	}
	if n == 0 {
		return nil, nil
	}
	props := make([]C.VkExtensionProperties, n)
	if r := C.enumerateInstanceExtensionProperties(&n, &props[0]); r != C.VK_SUCCESS && r != C.VK_INCOMPLETE {
		return nil, newError("vkEnumerateInstanceExtensionProperties", r)
	}
	return extNames(props[:n]), nil
}

func extNames(props []C.VkExtensionProperties) []string {
	names := make([]string, len(props))
	for i := range props {
		names[i] = C.GoString(&props[i].extensionName[0])
	}
	return names
}

// cstrings copies strs into one C array of C strings; free releases it.
func cstrings(strs []string) (arr **C.char, free func()) {
	if len(strs) == 0 {
		return nil, func() {}
	}
	p := (**C.char)(C.malloc(C.size_t(len(strs)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	s := unsafe.Slice(p, len(strs))
	for i, str := range strs {
		s[i] = C.CString(str)
	}
	return p, func() {
		for i := range s {
			C.free(unsafe.Pointer(s[i]))
		}
		C.free(unsafe.Pointer(p))
	}
}

// Instance is a VkInstance with its function table. It must be destroyed
// with DestroyInstance after every device made from it.
type Instance struct{ f *C.instFuncs }

// PhysicalDevice is a VkPhysicalDevice of an Instance.
type PhysicalDevice struct {
	inst Instance
	pd   C.VkPhysicalDevice
}

// CreateInstance creates a Vulkan instance for apiVersion (at least 1.1:
// the external-memory and ID-property queries are core there) with the
// given instance extensions enabled.
func CreateInstance(appName string, apiVersion uint32, extensions []string) (Instance, error) {
	if err := Load(); err != nil {
		return Instance{}, err
	}
	name := C.CString(appName)
	defer C.free(unsafe.Pointer(name))
	exts, free := cstrings(extensions)
	defer free()
	app := C.VkApplicationInfo{
		sType:            C.VK_STRUCTURE_TYPE_APPLICATION_INFO,
		pApplicationName: name,
		pEngineName:      name,
		apiVersion:       C.uint32_t(apiVersion),
	}
	inf := C.VkInstanceCreateInfo{sType: C.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO}
	var f *C.instFuncs
	if r := C.createInstance(inf, app, exts, C.uint32_t(len(extensions)), &f); r != C.VK_SUCCESS {
		return Instance{}, newError("vkCreateInstance", r)
	}
	return Instance{f}, nil
}

// check turns the VkResult of call into an error.
func check(call string, r C.VkResult) error {
	if r != C.VK_SUCCESS {
		return newError(call, r)
	}
	return nil
}

// AdoptInstance wraps a VkInstance the caller created (through the same
// loader, which this process has loaded as libvulkan.so.1), loading
// glbridge's function table for it. ReleaseInstance frees the table and
// leaves the instance to its owner.
func AdoptInstance(handle uintptr) (Instance, error) {
	if err := Load(); err != nil {
		return Instance{}, err
	}
	if handle == 0 {
		return Instance{}, errors.New("vk: AdoptInstance: VK_NULL_HANDLE")
	}
	var f *C.instFuncs
	if r := C.loadInstance(C.instanceOf(C.uintptr_t(handle)), &f); r != C.VK_SUCCESS {
		return Instance{}, newError("vkGetInstanceProcAddr", r)
	}
	return Instance{f}, nil
}

// ReleaseInstance frees the function table of an adopted instance.
func ReleaseInstance(inst Instance) { C.freeInstanceTable(inst.f) }

// Handle returns the raw VkInstance.
func (inst Instance) Handle() uintptr { return uintptr(unsafe.Pointer(inst.f.instance)) }

// PhysicalDeviceOf wraps a VkPhysicalDevice of inst.
func (inst Instance) PhysicalDeviceOf(handle uintptr) PhysicalDevice {
	return PhysicalDevice{inst, C.physicalDeviceOf(C.uintptr_t(handle))}
}

// Handle returns the raw VkPhysicalDevice.
func (pd PhysicalDevice) Handle() uintptr { return uintptr(unsafe.Pointer(pd.pd)) }

// Valid reports whether inst refers to a live instance.
func (inst Instance) Valid() bool { return inst.f != nil }

// DestroyInstance destroys inst.
func DestroyInstance(inst Instance) { C.destroyInstance(inst.f) }

// PhysicalDevices enumerates inst's physical devices.
func (inst Instance) PhysicalDevices() ([]PhysicalDevice, error) {
	var n C.uint32_t
	if r := C.enumeratePhysicalDevices(inst.f, &n, nil); r != C.VK_SUCCESS {
		return nil, newError("vkEnumeratePhysicalDevices", r)
	}
	if n == 0 {
		return nil, nil
	}
	pds := make([]C.VkPhysicalDevice, n)
	if r := C.enumeratePhysicalDevices(inst.f, &n, &pds[0]); r != C.VK_SUCCESS && r != C.VK_INCOMPLETE {
		return nil, newError("vkEnumeratePhysicalDevices", r)
	}
	out := make([]PhysicalDevice, n)
	for i := range out {
		out[i] = PhysicalDevice{inst, pds[i]}
	}
	return out, nil
}

// DeviceProperties is what glbridge reads of a physical device.
type DeviceProperties struct {
	Name          string
	APIVersion    uint32
	DriverVersion uint32
	VendorID      uint32
	DeviceID      uint32
	DeviceType    uint32
	DriverUUID    [16]byte
	DeviceUUID    [16]byte
	// DriverName and DriverInfo come from VkPhysicalDeviceDriverProperties
	// where the device is Vulkan 1.2 or has VK_KHR_driver_properties.
	DriverName string
	DriverInfo string
	// MaxImageDimension2D bounds the images the device can make.
	MaxImageDimension2D uint32
}

// Properties returns the device's properties and ID properties.
// wantDriverProps asks for VkPhysicalDeviceDriverProperties too; only set
// it when the device supports them.
func (pd PhysicalDevice) Properties(wantDriverProps bool) DeviceProperties {
	var props C.VkPhysicalDeviceProperties
	var id C.VkPhysicalDeviceIDProperties
	var drv C.VkPhysicalDeviceDriverProperties
	want := C.int(0)
	if wantDriverProps {
		want = 1
	}
	C.getPhysicalDeviceIDProperties(pd.inst.f, pd.pd, &props, &id, &drv, want)
	p := DeviceProperties{
		Name:                C.GoString(&props.deviceName[0]),
		APIVersion:          uint32(props.apiVersion),
		DriverVersion:       uint32(props.driverVersion),
		VendorID:            uint32(props.vendorID),
		DeviceID:            uint32(props.deviceID),
		DeviceType:          uint32(props.deviceType),
		MaxImageDimension2D: uint32(props.limits.maxImageDimension2D),
	}
	for i := range 16 {
		p.DriverUUID[i] = byte(id.driverUUID[i])
		p.DeviceUUID[i] = byte(id.deviceUUID[i])
	}
	if wantDriverProps {
		p.DriverName = C.GoString(&drv.driverName[0])
		p.DriverInfo = C.GoString(&drv.driverInfo[0])
	}
	return p
}

// Extensions lists the device extensions of pd.
func (pd PhysicalDevice) Extensions() ([]string, error) {
	var n C.uint32_t
	if r := C.enumerateDeviceExtensionProperties(pd.inst.f, pd.pd, &n, nil); r != C.VK_SUCCESS {
		return nil, newError("vkEnumerateDeviceExtensionProperties", r)
	}
	if n == 0 {
		return nil, nil
	}
	props := make([]C.VkExtensionProperties, n)
	if r := C.enumerateDeviceExtensionProperties(pd.inst.f, pd.pd, &n, &props[0]); r != C.VK_SUCCESS && r != C.VK_INCOMPLETE {
		return nil, newError("vkEnumerateDeviceExtensionProperties", r)
	}
	return extNames(props[:n]), nil
}

// QueueFamily is one queue family's flags and count.
type QueueFamily struct {
	Flags uint32
	Count uint32
}

// QueueFamilies lists pd's queue families.
func (pd PhysicalDevice) QueueFamilies() []QueueFamily {
	var n C.uint32_t
	C.getPhysicalDeviceQueueFamilyProperties(pd.inst.f, pd.pd, &n, nil)
	if n == 0 {
		return nil
	}
	props := make([]C.VkQueueFamilyProperties, n)
	C.getPhysicalDeviceQueueFamilyProperties(pd.inst.f, pd.pd, &n, &props[0])
	out := make([]QueueFamily, n)
	for i := range out {
		out[i] = QueueFamily{Flags: uint32(props[i].queueFlags), Count: uint32(props[i].queueCount)}
	}
	return out
}

// MemoryType is one of a device's memory types.
type MemoryType struct {
	PropertyFlags uint32
	HeapIndex     uint32
}

// MemoryTypes lists pd's memory types, indexed as memoryTypeBits counts.
func (pd PhysicalDevice) MemoryTypes() []MemoryType {
	var p C.VkPhysicalDeviceMemoryProperties
	C.getPhysicalDeviceMemoryProperties(pd.inst.f, pd.pd, &p)
	out := make([]MemoryType, p.memoryTypeCount)
	for i := range out {
		out[i] = MemoryType{PropertyFlags: uint32(p.memoryTypes[i].propertyFlags), HeapIndex: uint32(p.memoryTypes[i].heapIndex)}
	}
	return out
}

// FormatFeatures returns the linear, optimal and buffer feature flags of
// format on pd.
func (pd PhysicalDevice) FormatFeatures(format uint32) (linear, optimal, buffer uint32) {
	var p C.VkFormatProperties
	C.getPhysicalDeviceFormatProperties(pd.inst.f, pd.pd, C.VkFormat(format), &p)
	return uint32(p.linearTilingFeatures), uint32(p.optimalTilingFeatures), uint32(p.bufferFeatures)
}

// TimelineSemaphoreFeature reports VkPhysicalDeviceTimelineSemaphoreFeatures.
func (pd PhysicalDevice) TimelineSemaphoreFeature() bool {
	return C.hasTimelineFeature(pd.inst.f, pd.pd) != 0
}

// ImageFormatQuery is the input of ExternalImageFormatProperties.
type ImageFormatQuery struct {
	Format, Type, Tiling, Usage, Flags uint32
	HandleType                         uint32
}

// ImageFormatLimits are the limits vkGetPhysicalDeviceImageFormatProperties2
// reports for a query.
type ImageFormatLimits struct {
	MaxExtent       [3]uint32
	MaxMipLevels    uint32
	MaxArrayLayers  uint32
	SampleCounts    uint32
	MaxResourceSize uint64
}

// ExternalMemoryProperties is VkExternalMemoryProperties.
type ExternalMemoryProperties struct {
	Features                      uint32
	ExportFromImportedHandleTypes uint32
	CompatibleHandleTypes         uint32
}

// ExternalImageFormatProperties asks whether an image of q can be made with
// external memory of q.HandleType, and how.
func (pd PhysicalDevice) ExternalImageFormatProperties(q ImageFormatQuery) (ImageFormatLimits, ExternalMemoryProperties, error) {
	info := C.VkPhysicalDeviceImageFormatInfo2{
		format: C.VkFormat(q.Format),
		_type:  C.VkImageType(q.Type),
		tiling: C.VkImageTiling(q.Tiling),
		usage:  C.VkImageUsageFlags(q.Usage),
		flags:  C.VkImageCreateFlags(q.Flags),
	}
	var props C.VkImageFormatProperties
	var ext C.VkExternalMemoryProperties
	r := C.getExternalImageFormatProperties(pd.inst.f, pd.pd, info, C.VkExternalMemoryHandleTypeFlagBits(q.HandleType), &props, &ext)
	if r != C.VK_SUCCESS {
		return ImageFormatLimits{}, ExternalMemoryProperties{}, newError("vkGetPhysicalDeviceImageFormatProperties2", r)
	}
	return ImageFormatLimits{
			MaxExtent:       [3]uint32{uint32(props.maxExtent.width), uint32(props.maxExtent.height), uint32(props.maxExtent.depth)},
			MaxMipLevels:    uint32(props.maxMipLevels),
			MaxArrayLayers:  uint32(props.maxArrayLayers),
			SampleCounts:    uint32(props.sampleCounts),
			MaxResourceSize: uint64(props.maxResourceSize),
		}, ExternalMemoryProperties{
			Features:                      uint32(ext.externalMemoryFeatures),
			ExportFromImportedHandleTypes: uint32(ext.exportFromImportedHandleTypes),
			CompatibleHandleTypes:         uint32(ext.compatibleHandleTypes),
		}, nil
}

// ExternalBufferProperties asks how a buffer of usage can use external
// memory of handleType.
func (pd PhysicalDevice) ExternalBufferProperties(flags, usage, handleType uint32) ExternalMemoryProperties {
	var ext C.VkExternalMemoryProperties
	C.getExternalBufferProperties(pd.inst.f, pd.pd, C.VkBufferCreateFlags(flags), C.VkBufferUsageFlags(usage), C.VkExternalMemoryHandleTypeFlagBits(handleType), &ext)
	return ExternalMemoryProperties{
		Features:                      uint32(ext.externalMemoryFeatures),
		ExportFromImportedHandleTypes: uint32(ext.exportFromImportedHandleTypes),
		CompatibleHandleTypes:         uint32(ext.compatibleHandleTypes),
	}
}

// ExternalSemaphoreFeatures returns the VkExternalSemaphoreFeatureFlags for
// handleType, of a binary or (timeline) a timeline semaphore.
func (pd PhysicalDevice) ExternalSemaphoreFeatures(handleType uint32, timeline bool) uint32 {
	var f C.VkExternalSemaphoreFeatureFlags
	t := C.int(0)
	if timeline {
		t = 1
	}
	C.getExternalSemaphoreProperties(pd.inst.f, pd.pd, C.VkExternalSemaphoreHandleTypeFlagBits(handleType), t, &f)
	return uint32(f)
}

// Device is a VkDevice with its function table.
type Device struct{ f *C.devFuncs }

// CreateDevice creates a device on pd with one queue of queueFamily and the
// given extensions; timeline enables the timelineSemaphore feature.
func CreateDevice(pd PhysicalDevice, queueFamily uint32, extensions []string, timeline bool) (Device, error) {
	exts, free := cstrings(extensions)
	defer free()
	t := C.int(0)
	if timeline {
		t = 1
	}
	var d *C.devFuncs
	if r := C.createDevice(pd.inst.f, pd.pd, C.uint32_t(queueFamily), exts, C.uint32_t(len(extensions)), t, &d); r != C.VK_SUCCESS {
		return Device{}, newError("vkCreateDevice", r)
	}
	return Device{d}, nil
}

// AdoptDevice wraps a VkDevice the caller created on pd, loading glbridge's
// function table for it. ReleaseDevice frees the table and leaves the
// device to its owner.
func AdoptDevice(pd PhysicalDevice, handle uintptr) (Device, error) {
	if handle == 0 {
		return Device{}, errors.New("vk: AdoptDevice: VK_NULL_HANDLE")
	}
	var d *C.devFuncs
	if r := C.loadDevice(pd.inst.f, C.deviceOf(C.uintptr_t(handle)), &d); r != C.VK_SUCCESS {
		return Device{}, newError("vkGetDeviceProcAddr", r)
	}
	return Device{d}, nil
}

// ReleaseDevice frees the function table of an adopted device.
func ReleaseDevice(d Device) { C.freeDeviceTable(d.f) }

// QueueAt returns queue index of family.
func (d Device) QueueAt(family, index uint32) Queue {
	return Queue{C.getDeviceQueueAt(d.f, C.uint32_t(family), C.uint32_t(index))}
}

// DestroyDevice destroys d.
func DestroyDevice(d Device) { C.destroyDevice(d.f) }

// Valid reports whether d refers to a live device.
func (d Device) Valid() bool { return d.f != nil }

// Handle returns the raw VkDevice, for callers that share it with another
// Vulkan user in the process.
func (d Device) Handle() uintptr { return uintptr(unsafe.Pointer(d.f.device)) }

// Queue is a VkQueue.
type Queue struct{ q C.VkQueue }

// Queue returns queue 0 of family.
func (d Device) Queue(family uint32) Queue {
	return Queue{C.getDeviceQueueAt(d.f, C.uint32_t(family), 0)}
}

// WaitIdle waits for all of d's queues.
func (d Device) WaitIdle() error {
	return check("vkDeviceWaitIdle", C.deviceWaitIdle(d.f))
}

// QueueWaitIdle waits for q.
func (d Device) QueueWaitIdle(q Queue) error {
	return check("vkQueueWaitIdle", C.queueWaitIdle(d.f, q.q))
}

// Non-dispatchable handles are 64-bit on every platform glbridge supports.
type (
	// Image is a VkImage.
	Image uint64
	// Buffer is a VkBuffer.
	Buffer uint64
	// DeviceMemory is a VkDeviceMemory.
	DeviceMemory uint64
	// CommandPool is a VkCommandPool.
	CommandPool uint64
	// Fence is a VkFence.
	Fence uint64
	// Semaphore is a VkSemaphore.
	Semaphore uint64
)

// CommandBuffer is a VkCommandBuffer (a dispatchable handle).
type CommandBuffer struct{ cb C.VkCommandBuffer }

// ImageCreateInfo mirrors the fields of VkImageCreateInfo glbridge sets.
type ImageCreateInfo struct {
	Flags, ImageType, Format uint32
	Width, Height, Depth     uint32
	MipLevels, ArrayLayers   uint32
	Samples, Tiling, Usage   uint32
	InitialLayout            uint32
	ExternalHandleTypes      uint32
}

// CreateImage creates an image; ExternalHandleTypes chains
// VkExternalMemoryImageCreateInfo.
func (d Device) CreateImage(ci ImageCreateInfo) (Image, error) {
	inf := C.VkImageCreateInfo{
		flags:         C.VkImageCreateFlags(ci.Flags),
		imageType:     C.VkImageType(ci.ImageType),
		format:        C.VkFormat(ci.Format),
		extent:        C.VkExtent3D{C.uint32_t(ci.Width), C.uint32_t(ci.Height), C.uint32_t(ci.Depth)},
		mipLevels:     C.uint32_t(ci.MipLevels),
		arrayLayers:   C.uint32_t(ci.ArrayLayers),
		samples:       C.VkSampleCountFlagBits(ci.Samples),
		tiling:        C.VkImageTiling(ci.Tiling),
		usage:         C.VkImageUsageFlags(ci.Usage),
		sharingMode:   C.VK_SHARING_MODE_EXCLUSIVE,
		initialLayout: C.VkImageLayout(ci.InitialLayout),
	}
	var img C.VkImage
	if r := C.createImage(d.f, inf, C.VkExternalMemoryHandleTypeFlags(ci.ExternalHandleTypes), &img); r != C.VK_SUCCESS {
		return 0, newError("vkCreateImage", r)
	}
	return Image(img), nil
}

// DestroyImage destroys img.
func (d Device) DestroyImage(img Image) { C.destroyImage(d.f, C.VkImage(img)) }

// CreateBuffer creates a buffer; externalHandleTypes chains
// VkExternalMemoryBufferCreateInfo.
func (d Device) CreateBuffer(size uint64, usage, externalHandleTypes uint32) (Buffer, error) {
	inf := C.VkBufferCreateInfo{
		size:        C.VkDeviceSize(size),
		usage:       C.VkBufferUsageFlags(usage),
		sharingMode: C.VK_SHARING_MODE_EXCLUSIVE,
	}
	var buf C.VkBuffer
	if r := C.createBuffer(d.f, inf, C.VkExternalMemoryHandleTypeFlags(externalHandleTypes), &buf); r != C.VK_SUCCESS {
		return 0, newError("vkCreateBuffer", r)
	}
	return Buffer(buf), nil
}

// DestroyBuffer destroys buf.
func (d Device) DestroyBuffer(buf Buffer) { C.destroyBuffer(d.f, C.VkBuffer(buf)) }

// MemoryRequirements is VkMemoryRequirements plus the dedicated-allocation
// requirements.
type MemoryRequirements struct {
	Size              uint64
	Alignment         uint64
	MemoryTypeBits    uint32
	PrefersDedicated  bool
	RequiresDedicated bool
}

// ImageMemoryRequirements returns img's requirements.
func (d Device) ImageMemoryRequirements(img Image) MemoryRequirements {
	var req C.VkMemoryRequirements
	var pref, reqd C.VkBool32
	C.getImageMemoryRequirements(d.f, C.VkImage(img), &req, &pref, &reqd)
	return MemoryRequirements{uint64(req.size), uint64(req.alignment), uint32(req.memoryTypeBits), pref != 0, reqd != 0}
}

// BufferMemoryRequirements returns buf's requirements.
func (d Device) BufferMemoryRequirements(buf Buffer) MemoryRequirements {
	var req C.VkMemoryRequirements
	var pref, reqd C.VkBool32
	C.getBufferMemoryRequirements(d.f, C.VkBuffer(buf), &req, &pref, &reqd)
	return MemoryRequirements{uint64(req.size), uint64(req.alignment), uint32(req.memoryTypeBits), pref != 0, reqd != 0}
}

// MemoryAllocateInfo says how to allocate: plain, for export, or by
// importing an fd, and dedicated to an image or a buffer or not.
type MemoryAllocateInfo struct {
	Size            uint64
	MemoryTypeIndex uint32
	// ExportHandleTypes chains VkExportMemoryAllocateInfo when non-zero.
	ExportHandleTypes uint32
	// ImportFD, when >= 0, chains VkImportMemoryFdInfoKHR: a successful
	// allocation takes ownership of the fd; a failed one leaves it with
	// the caller.
	ImportFD         int
	ImportHandleType uint32
	DedicatedImage   Image
	DedicatedBuffer  Buffer
}

// AllocateMemory allocates device memory as info says.
func (d Device) AllocateMemory(info MemoryAllocateInfo) (DeviceMemory, error) {
	var mem C.VkDeviceMemory
	r := C.allocateMemory(d.f, C.VkDeviceSize(info.Size), C.uint32_t(info.MemoryTypeIndex),
		C.VkExternalMemoryHandleTypeFlags(info.ExportHandleTypes), C.int(info.ImportFD),
		C.VkExternalMemoryHandleTypeFlagBits(info.ImportHandleType),
		C.VkImage(info.DedicatedImage), C.VkBuffer(info.DedicatedBuffer), &mem)
	if r != C.VK_SUCCESS {
		return 0, newError("vkAllocateMemory", r)
	}
	return DeviceMemory(mem), nil
}

// FreeMemory frees mem.
func (d Device) FreeMemory(mem DeviceMemory) { C.freeMemory(d.f, C.VkDeviceMemory(mem)) }

// BindImageMemory binds mem at offset to img.
func (d Device) BindImageMemory(img Image, mem DeviceMemory, offset uint64) error {
	return check("vkBindImageMemory", C.bindImageMemory(d.f, C.VkImage(img), C.VkDeviceMemory(mem), C.VkDeviceSize(offset)))
}

// BindBufferMemory binds mem at offset to buf.
func (d Device) BindBufferMemory(buf Buffer, mem DeviceMemory, offset uint64) error {
	return check("vkBindBufferMemory", C.bindBufferMemory(d.f, C.VkBuffer(buf), C.VkDeviceMemory(mem), C.VkDeviceSize(offset)))
}

// MapMemory maps size bytes of mem at offset. The slice aliases the
// mapping and is invalid after UnmapMemory.
func (d Device) MapMemory(mem DeviceMemory, offset, size uint64) ([]byte, error) {
	var p unsafe.Pointer
	if r := C.mapMemory(d.f, C.VkDeviceMemory(mem), C.VkDeviceSize(offset), C.VkDeviceSize(size), &p); r != C.VK_SUCCESS {
		return nil, newError("vkMapMemory", r)
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// UnmapMemory unmaps mem.
func (d Device) UnmapMemory(mem DeviceMemory) { C.unmapMemory(d.f, C.VkDeviceMemory(mem)) }

// GetMemoryFD exports mem as a new fd of handleType; the caller owns it.
func (d Device) GetMemoryFD(mem DeviceMemory, handleType uint32) (int, error) {
	var fd C.int
	if d.f.getMemoryFdKHR == nil {
		return -1, newError("vkGetMemoryFdKHR", C.VK_ERROR_EXTENSION_NOT_PRESENT)
	}
	if r := C.getMemoryFd(d.f, C.VkDeviceMemory(mem), C.VkExternalMemoryHandleTypeFlagBits(handleType), &fd); r != C.VK_SUCCESS {
		return -1, newError("vkGetMemoryFdKHR", r)
	}
	return int(fd), nil
}

// CreateCommandPool creates a resettable command pool for family.
func (d Device) CreateCommandPool(family uint32) (CommandPool, error) {
	var p C.VkCommandPool
	if r := C.createCommandPool(d.f, C.uint32_t(family), &p); r != C.VK_SUCCESS {
		return 0, newError("vkCreateCommandPool", r)
	}
	return CommandPool(p), nil
}

// DestroyCommandPool destroys pool and its command buffers.
func (d Device) DestroyCommandPool(pool CommandPool) {
	C.destroyCommandPool(d.f, C.VkCommandPool(pool))
}

// AllocateCommandBuffer allocates one primary command buffer from pool.
func (d Device) AllocateCommandBuffer(pool CommandPool) (CommandBuffer, error) {
	var cb C.VkCommandBuffer
	if r := C.allocateCommandBuffer(d.f, C.VkCommandPool(pool), &cb); r != C.VK_SUCCESS {
		return CommandBuffer{}, newError("vkAllocateCommandBuffers", r)
	}
	return CommandBuffer{cb}, nil
}

// FreeCommandBuffer returns cb to pool.
func (d Device) FreeCommandBuffer(pool CommandPool, cb CommandBuffer) {
	C.freeCommandBuffer(d.f, C.VkCommandPool(pool), cb.cb)
}

// BeginCommandBuffer resets cb and begins one-time recording.
func (d Device) BeginCommandBuffer(cb CommandBuffer) error {
	return check("vkBeginCommandBuffer", C.beginCommandBuffer(d.f, cb.cb))
}

// EndCommandBuffer ends recording.
func (d Device) EndCommandBuffer(cb CommandBuffer) error {
	return check("vkEndCommandBuffer", C.endCommandBuffer(d.f, cb.cb))
}

// SubresourceRange is VkImageSubresourceRange.
type SubresourceRange struct {
	AspectMask                 uint32
	BaseMipLevel, LevelCount   uint32
	BaseArrayLayer, LayerCount uint32
}

func (r SubresourceRange) c() C.VkImageSubresourceRange {
	return C.VkImageSubresourceRange{
		aspectMask:     C.VkImageAspectFlags(r.AspectMask),
		baseMipLevel:   C.uint32_t(r.BaseMipLevel),
		levelCount:     C.uint32_t(r.LevelCount),
		baseArrayLayer: C.uint32_t(r.BaseArrayLayer),
		layerCount:     C.uint32_t(r.LayerCount),
	}
}

// ImageBarrier is VkImageMemoryBarrier, with the stages of the
// vkCmdPipelineBarrier call that carries it.
type ImageBarrier struct {
	SrcStage, DstStage             uint32
	SrcAccess, DstAccess           uint32
	OldLayout, NewLayout           uint32
	SrcQueueFamily, DstQueueFamily uint32
	Image                          Image
	Range                          SubresourceRange
}

// CmdImageBarrier records one image memory barrier.
func (d Device) CmdImageBarrier(cb CommandBuffer, b ImageBarrier) {
	C.cmdImageBarrier(d.f, cb.cb, C.VkPipelineStageFlags(b.SrcStage), C.VkPipelineStageFlags(b.DstStage), C.VkImageMemoryBarrier{
		srcAccessMask:       C.VkAccessFlags(b.SrcAccess),
		dstAccessMask:       C.VkAccessFlags(b.DstAccess),
		oldLayout:           C.VkImageLayout(b.OldLayout),
		newLayout:           C.VkImageLayout(b.NewLayout),
		srcQueueFamilyIndex: C.uint32_t(b.SrcQueueFamily),
		dstQueueFamilyIndex: C.uint32_t(b.DstQueueFamily),
		image:               C.VkImage(b.Image),
		subresourceRange:    b.Range.c(),
	})
}

// BufferBarrier is VkBufferMemoryBarrier with its stages.
type BufferBarrier struct {
	SrcStage, DstStage             uint32
	SrcAccess, DstAccess           uint32
	SrcQueueFamily, DstQueueFamily uint32
	Buffer                         Buffer
	Offset, Size                   uint64
}

// CmdBufferBarrier records one buffer memory barrier.
func (d Device) CmdBufferBarrier(cb CommandBuffer, b BufferBarrier) {
	C.cmdBufferBarrier(d.f, cb.cb, C.VkPipelineStageFlags(b.SrcStage), C.VkPipelineStageFlags(b.DstStage), C.VkBufferMemoryBarrier{
		srcAccessMask:       C.VkAccessFlags(b.SrcAccess),
		dstAccessMask:       C.VkAccessFlags(b.DstAccess),
		srcQueueFamilyIndex: C.uint32_t(b.SrcQueueFamily),
		dstQueueFamilyIndex: C.uint32_t(b.DstQueueFamily),
		buffer:              C.VkBuffer(b.Buffer),
		offset:              C.VkDeviceSize(b.Offset),
		size:                C.VkDeviceSize(b.Size),
	})
}

// CmdClearColorImage clears r of img (in layout) to the float colour c.
func (d Device) CmdClearColorImage(cb CommandBuffer, img Image, layout uint32, c [4]float32, r SubresourceRange) {
	var v C.VkClearColorValue
	copy(unsafe.Slice((*float32)(unsafe.Pointer(&v)), 4), c[:])
	C.cmdClearColorImage(d.f, cb.cb, C.VkImage(img), C.VkImageLayout(layout), v, r.c())
}

// CmdClearColorImageUint clears r of img to the integer colour c, for
// UINT and SINT formats.
func (d Device) CmdClearColorImageUint(cb CommandBuffer, img Image, layout uint32, c [4]uint32, r SubresourceRange) {
	var v C.VkClearColorValue
	copy(unsafe.Slice((*uint32)(unsafe.Pointer(&v)), 4), c[:])
	C.cmdClearColorImage(d.f, cb.cb, C.VkImage(img), C.VkImageLayout(layout), v, r.c())
}

// CmdClearDepthStencilImage clears r of img to depth and stencil.
func (d Device) CmdClearDepthStencilImage(cb CommandBuffer, img Image, layout uint32, depth float32, stencil uint32, r SubresourceRange) {
	C.cmdClearDepthStencilImage(d.f, cb.cb, C.VkImage(img), C.VkImageLayout(layout), C.VkClearDepthStencilValue{C.float(depth), C.uint32_t(stencil)}, r.c())
}

// BufferImageCopy is VkBufferImageCopy.
type BufferImageCopy struct {
	BufferOffset                  uint64
	BufferRowLength, BufferHeight uint32
	AspectMask, MipLevel          uint32
	BaseArrayLayer, LayerCount    uint32
	X, Y, Z                       int32
	Width, Height, Depth          uint32
}

func (c BufferImageCopy) c() C.VkBufferImageCopy {
	return C.VkBufferImageCopy{
		bufferOffset:      C.VkDeviceSize(c.BufferOffset),
		bufferRowLength:   C.uint32_t(c.BufferRowLength),
		bufferImageHeight: C.uint32_t(c.BufferHeight),
		imageSubresource: C.VkImageSubresourceLayers{
			aspectMask:     C.VkImageAspectFlags(c.AspectMask),
			mipLevel:       C.uint32_t(c.MipLevel),
			baseArrayLayer: C.uint32_t(c.BaseArrayLayer),
			layerCount:     C.uint32_t(c.LayerCount),
		},
		imageOffset: C.VkOffset3D{C.int32_t(c.X), C.int32_t(c.Y), C.int32_t(c.Z)},
		imageExtent: C.VkExtent3D{C.uint32_t(c.Width), C.uint32_t(c.Height), C.uint32_t(c.Depth)},
	}
}

// CmdCopyImageToBuffer records a copy of a region of img into buf.
func (d Device) CmdCopyImageToBuffer(cb CommandBuffer, img Image, layout uint32, buf Buffer, r BufferImageCopy) {
	C.cmdCopyImageToBuffer(d.f, cb.cb, C.VkImage(img), C.VkImageLayout(layout), C.VkBuffer(buf), r.c())
}

// CmdCopyBufferToImage records a copy of buf into a region of img.
func (d Device) CmdCopyBufferToImage(cb CommandBuffer, buf Buffer, img Image, layout uint32, r BufferImageCopy) {
	C.cmdCopyBufferToImage(d.f, cb.cb, C.VkBuffer(buf), C.VkImage(img), C.VkImageLayout(layout), r.c())
}

// CmdCopyBuffer records a copy of size bytes between buffers.
func (d Device) CmdCopyBuffer(cb CommandBuffer, src, dst Buffer, srcOffset, dstOffset, size uint64) {
	C.cmdCopyBuffer(d.f, cb.cb, C.VkBuffer(src), C.VkBuffer(dst), C.VkBufferCopy{C.VkDeviceSize(srcOffset), C.VkDeviceSize(dstOffset), C.VkDeviceSize(size)})
}

// ImageRegion names a rectangle of one mip level and layer range.
type ImageRegion struct {
	AspectMask, MipLevel       uint32
	BaseArrayLayer, LayerCount uint32
	X0, Y0, Z0, X1, Y1, Z1     int32
}

func (r ImageRegion) layers() C.VkImageSubresourceLayers {
	return C.VkImageSubresourceLayers{
		aspectMask:     C.VkImageAspectFlags(r.AspectMask),
		mipLevel:       C.uint32_t(r.MipLevel),
		baseArrayLayer: C.uint32_t(r.BaseArrayLayer),
		layerCount:     C.uint32_t(r.LayerCount),
	}
}

// CmdBlitImage records a blit of src region to dst region with filter.
func (d Device) CmdBlitImage(cb CommandBuffer, src Image, srcLayout uint32, dst Image, dstLayout uint32, sr, dr ImageRegion, filter uint32) {
	var b C.VkImageBlit
	b.srcSubresource = sr.layers()
	b.srcOffsets[0] = C.VkOffset3D{C.int32_t(sr.X0), C.int32_t(sr.Y0), C.int32_t(sr.Z0)}
	b.srcOffsets[1] = C.VkOffset3D{C.int32_t(sr.X1), C.int32_t(sr.Y1), C.int32_t(sr.Z1)}
	b.dstSubresource = dr.layers()
	b.dstOffsets[0] = C.VkOffset3D{C.int32_t(dr.X0), C.int32_t(dr.Y0), C.int32_t(dr.Z0)}
	b.dstOffsets[1] = C.VkOffset3D{C.int32_t(dr.X1), C.int32_t(dr.Y1), C.int32_t(dr.Z1)}
	C.cmdBlitImage(d.f, cb.cb, C.VkImage(src), C.VkImageLayout(srcLayout), C.VkImage(dst), C.VkImageLayout(dstLayout), b, C.VkFilter(filter))
}

// CmdCopyImage records a same-size copy of the src region (its X0..X1 etc.)
// to dst at dr's X0, Y0, Z0.
func (d Device) CmdCopyImage(cb CommandBuffer, src Image, srcLayout uint32, dst Image, dstLayout uint32, sr, dr ImageRegion) {
	var c C.VkImageCopy
	c.srcSubresource = sr.layers()
	c.srcOffset = C.VkOffset3D{C.int32_t(sr.X0), C.int32_t(sr.Y0), C.int32_t(sr.Z0)}
	c.dstSubresource = dr.layers()
	c.dstOffset = C.VkOffset3D{C.int32_t(dr.X0), C.int32_t(dr.Y0), C.int32_t(dr.Z0)}
	c.extent = C.VkExtent3D{C.uint32_t(sr.X1 - sr.X0), C.uint32_t(sr.Y1 - sr.Y0), C.uint32_t(sr.Z1 - sr.Z0)}
	C.cmdCopyImage(d.f, cb.cb, C.VkImage(src), C.VkImageLayout(srcLayout), C.VkImage(dst), C.VkImageLayout(dstLayout), c)
}

// CmdResolveImage records a resolve of the multisampled src region into
// the single-sampled dst at dr's X0, Y0, Z0.
func (d Device) CmdResolveImage(cb CommandBuffer, src Image, srcLayout uint32, dst Image, dstLayout uint32, sr, dr ImageRegion) {
	var r C.VkImageResolve
	r.srcSubresource = sr.layers()
	r.srcOffset = C.VkOffset3D{C.int32_t(sr.X0), C.int32_t(sr.Y0), C.int32_t(sr.Z0)}
	r.dstSubresource = dr.layers()
	r.dstOffset = C.VkOffset3D{C.int32_t(dr.X0), C.int32_t(dr.Y0), C.int32_t(dr.Z0)}
	r.extent = C.VkExtent3D{C.uint32_t(sr.X1 - sr.X0), C.uint32_t(sr.Y1 - sr.Y0), C.uint32_t(sr.Z1 - sr.Z0)}
	C.cmdResolveImage(d.f, cb.cb, C.VkImage(src), C.VkImageLayout(srcLayout), C.VkImage(dst), C.VkImageLayout(dstLayout), r)
}

// SemaphoreSubmit is one semaphore a submission waits on or signals, with
// its timeline value (ignored for binary semaphores) and, for waits, the
// stage that waits.
type SemaphoreSubmit struct {
	Semaphore Semaphore
	Value     uint64
	Stage     uint32
}

// maxSubmitSemaphores bounds the semaphores of one submission; glbridge's
// hand-offs use one or two.
const maxSubmitSemaphores = 8

// QueueSubmit submits cb (or nothing, when cb is zero) to q, waiting on
// wait and signalling signal; timeline says the values are timeline values.
// fence, when non-zero, is signalled on completion.
func (d Device) QueueSubmit(q Queue, cb CommandBuffer, wait, signal []SemaphoreSubmit, timeline bool, fence Fence) error {
	if len(wait) > maxSubmitSemaphores || len(signal) > maxSubmitSemaphores {
		panic("vk: QueueSubmit: too many semaphores")
	}
	// The arrays are C memory: Go memory holding them would be passed
	// inside a struct built by the C helper.
	type arrays struct {
		wait       [maxSubmitSemaphores]C.VkSemaphore
		waitStages [maxSubmitSemaphores]C.VkPipelineStageFlags
		waitValues [maxSubmitSemaphores]C.uint64_t
		signal     [maxSubmitSemaphores]C.VkSemaphore
		sigValues  [maxSubmitSemaphores]C.uint64_t
	}
	a := (*arrays)(C.calloc(1, C.size_t(unsafe.Sizeof(arrays{}))))
	defer C.free(unsafe.Pointer(a))
	for i, w := range wait {
		a.wait[i] = C.VkSemaphore(w.Semaphore)
		a.waitStages[i] = C.VkPipelineStageFlags(w.Stage)
		a.waitValues[i] = C.uint64_t(w.Value)
	}
	for i, s := range signal {
		a.signal[i] = C.VkSemaphore(s.Semaphore)
		a.sigValues[i] = C.uint64_t(s.Value)
	}
	var wv, sv *C.uint64_t
	if timeline {
		wv, sv = &a.waitValues[0], &a.sigValues[0]
	}
	r := C.queueSubmit(d.f, q.q, cb.cb, C.uint32_t(len(wait)), &a.wait[0], &a.waitStages[0], wv,
		C.uint32_t(len(signal)), &a.signal[0], sv, C.VkFence(fence))
	if r != C.VK_SUCCESS {
		return newError("vkQueueSubmit", r)
	}
	return nil
}

// CreateFence creates an unsignalled fence.
func (d Device) CreateFence() (Fence, error) {
	var f C.VkFence
	if r := C.createFence(d.f, &f); r != C.VK_SUCCESS {
		return 0, newError("vkCreateFence", r)
	}
	return Fence(f), nil
}

// DestroyFence destroys f.
func (d Device) DestroyFence(f Fence) { C.destroyFence(d.f, C.VkFence(f)) }

// WaitForFence waits up to timeoutNs for f. A timeout returns an error
// whose Result is Timeout.
func (d Device) WaitForFence(f Fence, timeoutNs uint64) error {
	return check("vkWaitForFences", C.waitForFence(d.f, C.VkFence(f), C.uint64_t(timeoutNs)))
}

// ResetFence resets f to unsignalled.
func (d Device) ResetFence(f Fence) error {
	return check("vkResetFences", C.resetFence(d.f, C.VkFence(f)))
}

// FenceSignalled reports whether f is signalled.
func (d Device) FenceSignalled(f Fence) (bool, error) {
	switch r := C.getFenceStatus(d.f, C.VkFence(f)); r {
	case C.VK_SUCCESS:
		return true, nil
	case C.VK_NOT_READY:
		return false, nil
	default:
		return false, newError("vkGetFenceStatus", r)
	}
}

// CreateSemaphore creates a binary or timeline semaphore, exportable as
// exportHandleTypes when non-zero.
func (d Device) CreateSemaphore(exportHandleTypes uint32, timeline bool, initial uint64) (Semaphore, error) {
	t := C.int(0)
	if timeline {
		t = 1
	}
	var s C.VkSemaphore
	if r := C.createSemaphore(d.f, C.VkExternalSemaphoreHandleTypeFlags(exportHandleTypes), t, C.uint64_t(initial), &s); r != C.VK_SUCCESS {
		return 0, newError("vkCreateSemaphore", r)
	}
	return Semaphore(s), nil
}

// DestroySemaphore destroys s.
func (d Device) DestroySemaphore(s Semaphore) { C.destroySemaphore(d.f, C.VkSemaphore(s)) }

// GetSemaphoreFD exports s as a new fd; the caller owns it.
func (d Device) GetSemaphoreFD(s Semaphore, handleType uint32) (int, error) {
	var fd C.int
	if r := C.getSemaphoreFd(d.f, C.VkSemaphore(s), C.VkExternalSemaphoreHandleTypeFlagBits(handleType), &fd); r != C.VK_SUCCESS {
		return -1, newError("vkGetSemaphoreFdKHR", r)
	}
	return int(fd), nil
}

// ImportSemaphoreFD imports fd into s; success takes ownership of fd.
func (d Device) ImportSemaphoreFD(s Semaphore, handleType, flags uint32, fd int) error {
	return check("vkImportSemaphoreFdKHR", C.importSemaphoreFd(d.f, C.VkSemaphore(s), C.VkExternalSemaphoreHandleTypeFlagBits(handleType), C.VkSemaphoreImportFlags(flags), C.int(fd)))
}

// WaitSemaphore waits up to timeoutNs for timeline semaphore s to reach value.
func (d Device) WaitSemaphore(s Semaphore, value, timeoutNs uint64) error {
	return check("vkWaitSemaphores", C.waitSemaphore(d.f, C.VkSemaphore(s), C.uint64_t(value), C.uint64_t(timeoutNs)))
}

// SignalSemaphore sets timeline semaphore s to value from the host.
func (d Device) SignalSemaphore(s Semaphore, value uint64) error {
	return check("vkSignalSemaphore", C.signalSemaphore(d.f, C.VkSemaphore(s), C.uint64_t(value)))
}

// SemaphoreValue returns timeline semaphore s's current value.
func (d Device) SemaphoreValue(s Semaphore) (uint64, error) {
	var v C.uint64_t
	if r := C.getSemaphoreCounterValue(d.f, C.VkSemaphore(s), &v); r != C.VK_SUCCESS {
		return 0, newError("vkGetSemaphoreCounterValue", r)
	}
	return uint64(v), nil
}

func newError(call string, r C.VkResult) error { return &Error{Call: call, Result: Result(r)} }
