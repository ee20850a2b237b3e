// Package helperdev opens the Vulkan helper device: the Vulkan device on
// the same GPU, driven by the same driver, as a GL context, which allocates
// the exportable memory GL cannot allocate itself.
//
// The match is by UUID: GL_DRIVER_UUID_EXT and GL_DEVICE_UUID_EXT against
// VkPhysicalDeviceIDProperties' driverUUID and deviceUUID, compared as whole
// 16-byte arrays. Memory can only pass between the two when both match
// (AMDVLK and radeonsi on one GPU report different driver UUIDs, and cannot).
//
// The same package opens the device of a Vulkan-only consumer (the DXVK
// role): Open matches UUIDs taken from an allocation record instead of a GL
// context.
package helperdev

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/vk"
)

// Sentinel errors, for errors.Is. They are bridge's, so that a caller who
// sees them from any glbridge package tests against one value.
var (
	// ErrUUIDMismatch: no Vulkan device has the UUIDs asked for.
	ErrUUIDMismatch = bridge.ErrUUIDMismatch
	// ErrNoExternalMemory: GL or Vulkan lacks the external memory
	// extension; the error names which.
	ErrNoExternalMemory = bridge.ErrNoExternalMemory
	// ErrClosed: the device was used after Close.
	ErrClosed = bridge.ErrClosed
)

// Config says which device to open.
type Config struct {
	// DriverUUID and DeviceUUID are the identity to match, read from a GL
	// context or from an allocation record.
	DriverUUID, DeviceUUID bridge.UUID
	// Peer names where the UUIDs came from, for error messages: the GL
	// renderer string, or "allocation record".
	Peer string
	// AppName is given to vkCreateInstance; "glbridge" when empty.
	AppName string
}

// GLIdentity is what OpenForGL needs to know of a GL context; glimport's
// QueryIdentity provides it.
type GLIdentity struct {
	Renderer   string
	DriverUUID bridge.UUID
	DeviceUUID bridge.UUID
	// MemoryObjectFD reports GL_EXT_memory_object_fd; without it GL cannot
	// import, and OpenForGL fails with ErrNoExternalMemory.
	MemoryObjectFD bool
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
	DriverUUID    bridge.UUID
	DeviceUUID    bridge.UUID
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
	// Extensions are the device extensions enabled on the helper device.
	Extensions []string
}

// Device is an open helper device: a VkInstance and VkDevice of its own
// with one queue. Close destroys both; objects made from the device must be
// released first.
type Device struct {
	inst   vk.Instance
	pd     vk.PhysicalDevice
	dev    vk.Device
	queue  vk.Queue
	family uint32
	caps   Caps

	// mu serialises use of the queue and the command pool, which Vulkan
	// requires to be externally synchronised.
	mu     sync.Mutex
	pool   vk.CommandPool
	cb     vk.CommandBuffer
	fence  vk.Fence
	closed bool
}

// OpenForGL opens the helper device for the GL context described by id.
func OpenForGL(id GLIdentity) (*Device, error) {
	if !id.MemoryObjectFD {
		return nil, fmt.Errorf("helperdev: %w: GL %q lacks GL_EXT_memory_object_fd", ErrNoExternalMemory, id.Renderer)
	}
	return Open(Config{DriverUUID: id.DriverUUID, DeviceUUID: id.DeviceUUID, Peer: fmt.Sprintf("GL %q", id.Renderer)})
}

// instanceAPIVersion picks the highest API version up to 1.3 the loader
// offers; glbridge needs at least 1.1 (external memory, ID properties).
func instanceAPIVersion() (uint32, error) {
	v, err := vk.InstanceVersion()
	if err != nil {
		return 0, fmt.Errorf("helperdev: %w", err)
	}
	if v < vk.MakeVersion(1, 1, 0) {
		return 0, fmt.Errorf("helperdev: %w: the Vulkan loader offers only Vulkan %s; 1.1 is needed", ErrNoExternalMemory, vk.VersionString(v))
	}
	return min(v, vk.MakeVersion(1, 3, 0)), nil
}

// PhysicalDeviceInfo describes one Vulkan physical device, for listings and
// for the mismatch error.
type PhysicalDeviceInfo struct {
	Name       string
	DriverName string
	APIVersion string
	DriverUUID bridge.UUID
	DeviceUUID bridge.UUID
	// ExternalMemoryFD reports VK_KHR_external_memory_fd.
	ExternalMemoryFD bool
	// Extensions are all the device extensions the device offers.
	Extensions []string
}

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

func (c candidate) info() PhysicalDeviceInfo {
	return PhysicalDeviceInfo{
		Name:             c.props.Name,
		DriverName:       c.props.DriverName,
		APIVersion:       vk.VersionString(c.props.APIVersion),
		DriverUUID:       c.props.DriverUUID,
		DeviceUUID:       c.props.DeviceUUID,
		ExternalMemoryFD: slices.Contains(c.exts, vk.KHRExternalMemoryFD),
		Extensions:       slices.Clone(c.exts),
	}
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

// Open opens the Vulkan device whose driver and device UUIDs equal cfg's.
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
		if cands[i].props.DriverUUID == cfg.DriverUUID && cands[i].props.DeviceUUID == cfg.DeviceUUID {
			match = &cands[i]
			break
		}
	}
	if match == nil {
		return nil, mismatchError(cfg, cands)
	}
	c := *match
	if c.props.APIVersion < vk.MakeVersion(1, 1, 0) {
		return nil, fmt.Errorf("helperdev: %w: Vulkan device %q is Vulkan %s; 1.1 is needed", ErrNoExternalMemory, c.props.Name, vk.VersionString(c.props.APIVersion))
	}
	if !slices.Contains(c.exts, vk.KHRExternalMemoryFD) {
		return nil, fmt.Errorf("helperdev: %w: Vulkan device %q lacks %s", ErrNoExternalMemory, c.props.Name, vk.KHRExternalMemoryFD)
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
	semFD := slices.Contains(enable, vk.KHRExternalSemaphoreFD)
	const exportImport = vk.ExternalSemaphoreFeatureExportableBit | vk.ExternalSemaphoreFeatureImportableBit
	d := &Device{
		inst:   inst,
		pd:     c.pd,
		dev:    dev,
		family: family,
		queue:  dev.Queue(family),
		caps: Caps{
			DeviceName:          c.props.Name,
			DriverName:          c.props.DriverName,
			DriverInfo:          c.props.DriverInfo,
			APIVersion:          vk.VersionString(c.props.APIVersion),
			DriverVersion:       c.props.DriverVersion,
			DriverUUID:          c.props.DriverUUID,
			DeviceUUID:          c.props.DeviceUUID,
			ExternalMemoryFD:    true,
			DedicatedAllocation: true,
			ExternalSemaphoreFD: semFD && c.pd.ExternalSemaphoreFeatures(vk.ExternalSemaphoreHandleTypeOpaqueFDBit, false)&exportImport == exportImport,
			TimelineSemaphore:   timeline,
			TimelineSemaphoreFD: semFD && timeline && c.pd.ExternalSemaphoreFeatures(vk.ExternalSemaphoreHandleTypeOpaqueFDBit, true)&exportImport == exportImport,
			Extensions:          enable,
		},
	}
	if err := d.initCommands(); err != nil {
		vk.DestroyDevice(dev)
		return nil, err
	}
	return d, nil
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
	fmt.Fprintf(&b, "helperdev: %v: %s has driver UUID %s, device UUID %s; Vulkan has ", ErrUUIDMismatch, peer, cfg.DriverUUID, cfg.DeviceUUID)
	if len(cands) == 0 {
		b.WriteString("no physical devices")
	}
	for i, c := range cands {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q driver UUID %s, device UUID %s", c.props.Name, bridge.UUID(c.props.DriverUUID), bridge.UUID(c.props.DeviceUUID))
	}
	return &mismatch{msg: b.String()}
}

// mismatch carries the full listing while still matching ErrUUIDMismatch.
type mismatch struct{ msg string }

func (e *mismatch) Error() string { return e.msg }
func (e *mismatch) Unwrap() error { return ErrUUIDMismatch }

func (d *Device) initCommands() error {
	var err error
	if d.pool, err = d.dev.CreateCommandPool(d.family); err != nil {
		return fmt.Errorf("helperdev: %w", err)
	}
	if d.cb, err = d.dev.AllocateCommandBuffer(d.pool); err != nil {
		d.dev.DestroyCommandPool(d.pool)
		return fmt.Errorf("helperdev: %w", err)
	}
	if d.fence, err = d.dev.CreateFence(); err != nil {
		d.dev.DestroyCommandPool(d.pool)
		return fmt.Errorf("helperdev: %w", err)
	}
	return nil
}

// Caps returns what the device can do.
func (d *Device) Caps() Caps {
	c := d.caps
	c.Extensions = slices.Clone(c.Extensions)
	return c
}

// Close waits for the device to go idle and destroys it and its instance.
// It is idempotent. Every image, buffer and memory made from the device
// must be released before.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.dev.WaitIdle()
	d.dev.DestroyFence(d.fence)
	d.dev.DestroyCommandPool(d.pool)
	vk.DestroyDevice(d.dev)
	vk.DestroyInstance(d.inst)
	if err != nil {
		return fmt.Errorf("helperdev: %w", err)
	}
	return nil
}

// Commands gives the recording function of Submit access to the device.
type Commands struct {
	Dev vk.Device
	CB  vk.CommandBuffer
}

// SemaphoreOp is one semaphore a submission waits on or signals: Value
// is the timeline value (ignored for binary semaphores), Stage the stage
// that waits.
type SemaphoreOp = vk.SemaphoreSubmit

// Submit records commands with record, submits them and waits for them to
// complete. It serialises with every other Submit on d. The vk types in
// Commands are glbridge-internal: Submit is for glbridge's own packages.
func (d *Device) Submit(record func(Commands)) error {
	return d.SubmitSync(record, nil, nil, false)
}

// SubmitSync is Submit with semaphores: the commands wait for wait and
// signal signal; timeline says the semaphores are timeline semaphores
// (all of them: glbridge never mixes the kinds in one submission). It
// still waits for the commands to complete before returning.
func (d *Device) SubmitSync(record func(Commands), wait, signal []SemaphoreOp, timeline bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("helperdev: Submit: %w", ErrClosed)
	}
	if err := d.dev.BeginCommandBuffer(d.cb); err != nil {
		return fmt.Errorf("helperdev: %w", err)
	}
	record(Commands{Dev: d.dev, CB: d.cb})
	if err := d.dev.EndCommandBuffer(d.cb); err != nil {
		return fmt.Errorf("helperdev: %w", err)
	}
	if err := d.dev.QueueSubmit(d.queue, d.cb, wait, signal, timeline, d.fence); err != nil {
		return fmt.Errorf("helperdev: %w", err)
	}
	const forever = ^uint64(0)
	werr := d.dev.WaitForFence(d.fence, forever)
	if rerr := d.dev.ResetFence(d.fence); werr == nil {
		werr = rerr
	}
	if werr != nil {
		return fmt.Errorf("helperdev: %w", werr)
	}
	return nil
}

// Internal exposes the Vulkan objects to glbridge's own packages (vkalloc);
// the types are internal, so nothing outside the module can use them.
func (d *Device) Internal() (vk.Device, vk.PhysicalDevice, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return vk.Device{}, vk.PhysicalDevice{}, fmt.Errorf("helperdev: %w", ErrClosed)
	}
	return d.dev, d.pd, nil
}

// QueueFamily returns the index of the device's queue family, which
// ownership transfers to and from VK_QUEUE_FAMILY_EXTERNAL name.
func (d *Device) QueueFamily() uint32 { return d.family }

var errNoMemoryType = errors.New("no memory type fits")

// MemoryTypeIndex picks the first memory type allowed by typeBits that has
// all of want's property flags, or with want = 0 prefers device-local.
func (d *Device) MemoryTypeIndex(typeBits, want uint32) (uint32, error) {
	types := d.pd.MemoryTypes()
	pick := func(flags uint32) (uint32, bool) {
		for i, t := range types {
			if typeBits&(1<<i) != 0 && t.PropertyFlags&flags == flags {
				return uint32(i), true
			}
		}
		return 0, false
	}
	if want == 0 {
		if i, ok := pick(vk.MemoryPropertyDeviceLocalBit); ok {
			return i, nil
		}
	}
	if i, ok := pick(want); ok {
		return i, nil
	}
	return 0, fmt.Errorf("helperdev: %w: memoryTypeBits %#x with properties %#x", errNoMemoryType, typeBits, want)
}
