// Package helperdev opens the Vulkan helper device: the Vulkan device on
// the same GPU, driven by the same driver, as a GL context, which allocates
// the exportable memory GL cannot allocate itself.
//
// The match is by UUID: GL_DRIVER_UUID_EXT and GL_DEVICE_UUID_EXT against
// VkPhysicalDeviceIDProperties' driverUUID and deviceUUID, compared as whole
// 16-byte arrays. Memory can only pass between the two when both match
// (AMDVLK and radeonsi on one GPU report different driver UUIDs, and cannot).
//
// The same package opens the device of a Vulkan-only consumer: Open
// matches UUIDs taken from an allocation record instead of a GL context.
// And a renderer with a Vulkan device of its own (the DXVK role) hands it to
// Adopt as plain handles, so that glbridge allocates and imports on that
// device, owning nothing of it.
package helperdev

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/internal/vkdevice"
)

// Config says which device Open opens.
type Config struct {
	// Device is the identity to match, read from a GL context
	// (glimport.Identity.Device) or from an allocation record.
	Device bridge.DeviceID
	// Peer names where the identity came from, for error messages: the GL
	// renderer, or "allocation record".
	Peer string
	// AppName is given to vkCreateInstance; "glbridge" when empty.
	AppName string
}

// Caps is what the helper device can do; glshare info prints it and the
// other packages choose their paths from it.
type Caps struct {
	DeviceName string
	// DriverName and DriverInfo are VkPhysicalDeviceDriverProperties'
	// (empty where the driver does not report them).
	DriverName    string
	DriverInfo    string
	APIVersion    string
	DriverVersion uint32
	Device        bridge.DeviceID
	// ExternalMemoryFD: VK_KHR_external_memory_fd is enabled (always true
	// on an opened device: Open fails without it).
	ExternalMemoryFD bool
	// DedicatedAllocation: dedicated allocations are available (core in
	// Vulkan 1.1, which glbridge requires).
	DedicatedAllocation bool
	// ExternalSemaphoreFD: VK_KHR_external_semaphore_fd is enabled and
	// binary semaphores export and import as opaque fds.
	ExternalSemaphoreFD bool
	// TimelineSemaphore: timeline semaphores are enabled; with
	// TimelineSemaphoreFD they also export as opaque fds.
	TimelineSemaphore   bool
	TimelineSemaphoreFD bool
	// Extensions are the device extensions enabled on the device.
	Extensions []string
}

// Device is a Vulkan device glbridge allocates and imports on: a VkInstance
// and VkDevice of its own with one queue (Open), or a caller's device that
// glbridge works on without owning it (Adopt). Its methods may be called
// from any goroutine. Objects made from the device must be released before
// Close.
type Device struct {
	core   *vkdevice.Device
	caps   Caps
	handle bridge.VulkanHandles
}

func init() { vkdevice.SetOf(func(d any) *vkdevice.Device { return d.(*Device).core }) }

// PhysicalDeviceInfo describes one Vulkan physical device, for listings and
// for the mismatch error.
type PhysicalDeviceInfo struct {
	Name       string
	DriverName string
	APIVersion string
	Device     bridge.DeviceID
	// ExternalMemoryFD reports VK_KHR_external_memory_fd.
	ExternalMemoryFD bool
	// Extensions are all the device extensions the device offers.
	Extensions []string
}

// instanceAPIVersion picks the highest API version up to 1.3 the loader
// offers; glbridge needs at least 1.1 (external memory, ID properties).
func instanceAPIVersion() (uint32, error) {
	v, err := vk.InstanceVersion()
	if err != nil {
		return 0, fmt.Errorf("helperdev: %w", err)
	}
	if v < vk.MakeVersion(1, 1, 0) {
		return 0, fmt.Errorf("helperdev: %w: the Vulkan loader offers only Vulkan %s; 1.1 is needed", bridge.ErrNoExternalMemory, vk.VersionString(v))
	}
	return min(v, vk.MakeVersion(1, 3, 0)), nil
}

// candidate is a physical device with what Open reads of it.
type candidate struct {
	pd    vk.PhysicalDevice
	props vk.DeviceProperties
	exts  []string
}

func enumerate(inst vk.Instance) ([]candidate, error) {
	pds, err := inst.PhysicalDevices()
	if err != nil {
		return nil, fmt.Errorf("helperdev: %w", err)
	}
	var out []candidate
	for _, pd := range pds {
		exts, err := pd.Extensions()
		if err != nil {
			return nil, fmt.Errorf("helperdev: %w", err)
		}
		base := pd.Properties(false)
		driverProps := base.APIVersion >= vk.MakeVersion(1, 2, 0) || slices.Contains(exts, vk.KHRDriverProperties)
		out = append(out, candidate{pd: pd, props: pd.Properties(driverProps), exts: exts})
	}
	return out, nil
}

// ListPhysicalDevices lists every Vulkan physical device with its UUIDs.
func ListPhysicalDevices() ([]PhysicalDeviceInfo, error) {
	api, err := instanceAPIVersion()
	if err != nil {
		return nil, err
	}
	inst, err := vk.CreateInstance("glbridge", api, nil)
	if err != nil {
		return nil, fmt.Errorf("helperdev: %w", err)
	}
	defer vk.DestroyInstance(inst)
	cands, err := enumerate(inst)
	if err != nil {
		return nil, err
	}
	infos := make([]PhysicalDeviceInfo, len(cands))
	for i, c := range cands {
		infos[i] = c.info()
	}
	return infos, nil
}

// Open opens, on an instance of its own, the Vulkan device whose driver
// and device UUIDs are cfg.Device (an error wrapping
// bridge.ErrUUIDMismatch, listing every device, where none is), with one
// graphics queue and every external-memory and semaphore extension it
// offers. The caller owns the Device and must Close it.
func Open(cfg Config) (*Device, error) {
	api, err := instanceAPIVersion()
	if err != nil {
		return nil, err
	}
	app := cfg.AppName
	if app == "" {
		app = "glbridge"
	}
	inst, err := vk.CreateInstance(app, api, nil)
	if err != nil {
		return nil, fmt.Errorf("helperdev: %w", err)
	}
	d, err := open(inst, cfg)
	if err != nil {
		vk.DestroyInstance(inst)
		return nil, err
	}
	return d, nil
}

func (c candidate) id() bridge.DeviceID {
	return bridge.DeviceID{Driver: c.props.DriverUUID, Device: c.props.DeviceUUID}
}

func (c candidate) info() PhysicalDeviceInfo {
	return PhysicalDeviceInfo{
		Name:             c.props.Name,
		DriverName:       c.props.DriverName,
		APIVersion:       vk.VersionString(c.props.APIVersion),
		Device:           c.id(),
		ExternalMemoryFD: slices.Contains(c.exts, vk.KHRExternalMemoryFD),
		Extensions:       slices.Clone(c.exts),
	}
}

func open(inst vk.Instance, cfg Config) (*Device, error) {
	cands, err := enumerate(inst)
	if err != nil {
		return nil, err
	}
	var match *candidate
	for i := range cands {
		// Whole-array comparison: Mesa's UUIDs are zero-padded, so a
		// string comparison (piglit's strncmp) stops early and matches
		// devices that differ.
		if cands[i].id() == cfg.Device {
			match = &cands[i]
			break
		}
	}
	if match == nil {
		return nil, mismatchError(cfg, cands)
	}
	c := *match
	if err := c.usable(c.exts); err != nil {
		return nil, err
	}
	family, ok := pickQueueFamily(c.pd.QueueFamilies())
	if !ok {
		return nil, fmt.Errorf("helperdev: Vulkan device %q has no graphics queue family", c.props.Name)
	}
	enable := []string{vk.KHRExternalMemoryFD}
	for _, e := range []string{vk.KHRExternalMemory, vk.KHRDedicatedAllocation, vk.KHRGetMemoryRequirements2, vk.KHRExternalSemaphore, vk.KHRExternalSemaphoreFD, vk.KHRTimelineSemaphore} {
		if slices.Contains(c.exts, e) {
			enable = append(enable, e)
		}
	}
	timelineCore := c.props.APIVersion >= vk.MakeVersion(1, 2, 0)
	timeline := (timelineCore || slices.Contains(c.exts, vk.KHRTimelineSemaphore)) && c.pd.TimelineSemaphoreFeature()

	dev, err := vk.CreateDevice(c.pd, family, enable, timeline)
	if err != nil {
		return nil, fmt.Errorf("helperdev: %w", err)
	}
	d, err := newDevice(inst, c, dev, family, 0, enable, timeline, true)
	if err != nil {
		vk.DestroyDevice(dev)
		return nil, err
	}
	return d, nil
}

// usable checks that candidate c, with the device extensions enabled, can
// share memory at all.
func (c candidate) usable(enabled []string) error {
	if c.props.APIVersion < vk.MakeVersion(1, 1, 0) {
		return fmt.Errorf("helperdev: %w: Vulkan device %q is Vulkan %s; 1.1 is needed", bridge.ErrNoExternalMemory, c.props.Name, vk.VersionString(c.props.APIVersion))
	}
	if !slices.Contains(enabled, vk.KHRExternalMemoryFD) {
		return fmt.Errorf("helperdev: %w: Vulkan device %q lacks %s", bridge.ErrNoExternalMemory, c.props.Name, vk.KHRExternalMemoryFD)
	}
	return nil
}

// Adopt wraps a Vulkan device the caller made and keeps (the DXVK role),
// so that vkalloc allocates and imports on it and glbridge's hand-offs
// submit to its queue h.QueueFamily/h.QueueIndex. glbridge owns nothing of
// it: Close destroys only the command pool and fence glbridge made on it,
// and the caller destroys its device and instance after closing the
// Device. The instance must come from the process's libvulkan.so.1 loader.
// Adopt fails, wrapping bridge.ErrNoExternalMemory, when the device is not
// Vulkan 1.1 or h.Extensions lacks VK_KHR_external_memory_fd.
func Adopt(h bridge.VulkanHandles) (*Device, error) {
	if h.Instance == 0 || h.PhysicalDevice == 0 || h.Device == 0 {
		panic("helperdev: Adopt of a null handle")
	}
	inst, err := vk.AdoptInstance(h.Instance)
	if err != nil {
		return nil, fmt.Errorf("helperdev: Adopt: %w", err)
	}
	pd := inst.PhysicalDeviceOf(h.PhysicalDevice)
	exts, err := pd.Extensions()
	if err != nil {
		vk.ReleaseInstance(inst)
		return nil, fmt.Errorf("helperdev: Adopt: %w", err)
	}
	base := pd.Properties(false)
	driverProps := base.APIVersion >= vk.MakeVersion(1, 2, 0) || slices.Contains(exts, vk.KHRDriverProperties)
	c := candidate{pd: pd, props: pd.Properties(driverProps), exts: exts}
	if err := c.usable(h.Extensions); err != nil {
		vk.ReleaseInstance(inst)
		return nil, err
	}
	dev, err := vk.AdoptDevice(pd, h.Device)
	if err != nil {
		vk.ReleaseInstance(inst)
		return nil, fmt.Errorf("helperdev: Adopt: %w", err)
	}
	d, err := newDevice(inst, c, dev, h.QueueFamily, h.QueueIndex, h.Extensions, h.TimelineSemaphore, false)
	if err != nil {
		vk.ReleaseDevice(dev)
		vk.ReleaseInstance(inst)
		return nil, err
	}
	return d, nil
}

// newDevice wraps dev, made on candidate c with the extensions enable and
// (with timeline) the timelineSemaphore feature, with glbridge's command
// buffer on queue index of family. On failure nothing of inst and dev is
// released.
func newDevice(inst vk.Instance, c candidate, dev vk.Device, family, index uint32, enable []string, timeline, owned bool) (*Device, error) {
	core, err := vkdevice.New(inst, c.pd, dev, family, index, owned)
	if err != nil {
		return nil, fmt.Errorf("helperdev: %w", err)
	}
	semFD := slices.Contains(enable, vk.KHRExternalSemaphoreFD)
	const exportImport = vk.ExternalSemaphoreFeatureExportableBit | vk.ExternalSemaphoreFeatureImportableBit
	return &Device{
		core: core,
		caps: Caps{
			DeviceName:          c.props.Name,
			DriverName:          c.props.DriverName,
			DriverInfo:          c.props.DriverInfo,
			APIVersion:          vk.VersionString(c.props.APIVersion),
			DriverVersion:       c.props.DriverVersion,
			Device:              c.id(),
			ExternalMemoryFD:    true,
			DedicatedAllocation: true,
			ExternalSemaphoreFD: semFD && c.pd.ExternalSemaphoreFeatures(vk.ExternalSemaphoreHandleTypeOpaqueFDBit, false)&exportImport == exportImport,
			TimelineSemaphore:   timeline,
			TimelineSemaphoreFD: semFD && timeline && c.pd.ExternalSemaphoreFeatures(vk.ExternalSemaphoreHandleTypeOpaqueFDBit, true)&exportImport == exportImport,
			Extensions:          slices.Clone(enable),
		},
		handle: bridge.VulkanHandles{
			Instance: inst.Handle(), PhysicalDevice: c.pd.Handle(), Device: dev.Handle(),
			QueueFamily: family, QueueIndex: index, Extensions: slices.Clone(enable), TimelineSemaphore: timeline,
		},
	}, nil
}

func pickQueueFamily(fams []vk.QueueFamily) (uint32, bool) {
	for i, f := range fams {
		if f.Flags&vk.QueueGraphicsBit != 0 && f.Count > 0 {
			return uint32(i), true
		}
	}
	return 0, false
}

func mismatchError(cfg Config, cands []candidate) error {
	var b strings.Builder
	peer := cfg.Peer
	if peer == "" {
		peer = "the request"
	}
	fmt.Fprintf(&b, "helperdev: %v: %s has %s; Vulkan has ", bridge.ErrUUIDMismatch, peer, cfg.Device)
	if len(cands) == 0 {
		b.WriteString("no physical devices")
	}
	for i, c := range cands {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q %s", c.props.Name, c.id())
	}
	return &mismatch{msg: b.String()}
}

// mismatch carries the full listing while still matching
// bridge.ErrUUIDMismatch.
type mismatch struct{ msg string }

func (e *mismatch) Error() string { return e.msg }
func (e *mismatch) Unwrap() error { return bridge.ErrUUIDMismatch }

// Caps returns what the device can do.
func (d *Device) Caps() Caps {
	c := d.caps
	c.Extensions = slices.Clone(c.Extensions)
	return c
}

// Handles returns the device's Vulkan handles, so that a caller may record
// its own commands on the device glbridge allocates on (an adopted device
// returns the caller's own handles). They belong to d and are valid until
// Close.
func (d *Device) Handles() bridge.VulkanHandles {
	h := d.handle
	h.Extensions = slices.Clone(h.Extensions)
	return h
}

// Close releases the device: an opened one is destroyed with its instance,
// after it went idle; of an adopted one only glbridge's command pool and
// fence are destroyed, after glbridge's queue went idle, and the caller's
// device and instance are left as they are. It is idempotent. Every image,
// buffer, semaphore and memory made from the device must be released
// before.
//
// The destruction runs on an OS thread of its own, which ends with it:
// NVIDIA's driver (580) leaves the thread that destroys a Vulkan device
// without its current GL context (GL calls on it do nothing from then
// on), and Close is often called on a GL renderer's thread.
func (d *Device) Close() error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, taking
		// whatever the driver left in its thread state with it.
		runtime.LockOSThread()
		done <- d.core.Close()
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("helperdev: %w", err)
	}
	return nil
}
