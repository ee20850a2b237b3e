package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
)

func init() {
	register(command{name: "ls", summary: "list the broker's live shared resources", run: runLs})
}

// lsEntry is one resource as `glshare ls --json` prints it: stable field
// names, handles as numbers and as the hex Windows tools print.
type lsEntry struct {
	KMT              uint32       `json:"kmt"`
	KMTHex           string       `json:"kmt_hex"`
	Names            []string     `json:"names"`
	Desc             string       `json:"desc"`
	Allocation       lsAllocation `json:"allocation"`
	Size             uint64       `json:"size"`
	DataLen          int          `json:"private_data_len"`
	CreatorPID       int32        `json:"creator_pid"`
	CreatorConnected bool         `json:"creator_connected"`
	Refs             int          `json:"refs"`
	// NTHandles counts the NT handles to the resource on every
	// connection, Duplicates the DUPLICATEs of them not yet opened (both
	// among Refs).
	NTHandles  int        `json:"nt_handles"`
	Duplicates int        `json:"duplicates"`
	Holders    []lsHolder `json:"holders"`
	// SyncFDs is the number of semaphore fds the broker keeps for the
	// resource, SyncKinds their kinds in order ("timeline", "binary").
	SyncFDs   int      `json:"sync_fds"`
	SyncKinds []string `json:"sync_kinds"`
	Mutex     lsMutex  `json:"keyed_mutex"`
	// Memory is where the resource lives: "vulkan" (a Vulkan allocation;
	// openers on its driver and device share it zero-copy, others copy)
	// or "host" (a memfd: the copy path, every side copies).
	Memory string `json:"memory"`
	// AllocatedBy is who allocated the memory: "service" (the broker, by
	// ALLOCATE, on the device AllocatedOn names, or "host memory") or
	// "client" (the creator, pid CreatorPID, made it and registered it by
	// CREATE; AllocatedOn is empty).
	AllocatedBy string `json:"allocated_by"`
	AllocatedOn string `json:"allocated_on"`
	// SyncPath is how holders of the keyed mutex order their GPU work:
	// "timeline semaphore" when one travels with the resource, else
	// "fallback (fences)".
	SyncPath string `json:"sync_path"`
}

// memoryAndSync fills the MEMORY and SYNC PATH facts of e.
func (e *lsEntry) memoryAndSync(a bridge.Allocation) {
	e.Memory = "vulkan"
	if a.HostMemory {
		e.Memory = "host"
	}
	e.SyncPath = "fallback (fences)"
	if slices.Contains(e.SyncKinds, "timeline") {
		e.SyncPath = "timeline semaphore"
	}
}

// lsMutex is the keyed mutex: "free", "held" (by holder_pid through the
// broker connection holder_conn) or "abandoned" (free; a holder went
// without releasing, so any acquirer gets it with any key). Abandoned says
// a holder went without releasing, which lasts: held or free, every
// acquirer is told so.
type lsMutex struct {
	State      string `json:"state"`
	Abandoned  bool   `json:"abandoned"`
	HolderPID  int32  `json:"holder_pid,omitempty"`
	HolderConn uint32 `json:"holder_conn,omitempty"`
	LastKey    uint64 `json:"last_key"`
	LastValue  uint64 `json:"last_value"`
	Waiters    int    `json:"waiters"`
}

func mutexSummary(m broker.MutexState) lsMutex {
	out := lsMutex{State: "free", Abandoned: m.Abandoned, LastKey: m.LastKey, LastValue: m.LastValue, Waiters: m.Waiters}
	switch {
	case m.Held:
		out.State, out.HolderPID, out.HolderConn = "held", m.HolderPID, m.HolderConn
	case m.Abandoned:
		out.State = "abandoned"
	}
	return out
}

// String is the MUTEX column: the state, the last key released with, and
// the waiters.
func (m lsMutex) String() string {
	s := m.State
	if m.State == "held" {
		s += fmt.Sprintf(" by pid %d", m.HolderPID)
		if m.Abandoned {
			s += " (abandoned)"
		}
	}
	s += fmt.Sprintf(", last key %d", m.LastKey)
	if m.Waiters > 0 {
		s += fmt.Sprintf(", %d waiting", m.Waiters)
	}
	return s
}

type lsHolder struct {
	PID  int32  `json:"pid"`
	UID  uint32 `json:"uid"`
	Conn uint32 `json:"conn"`
	Refs int    `json:"refs"`
}

type lsAllocation struct {
	Dimension        string `json:"dimension"`
	Width            uint32 `json:"width"`
	Height           uint32 `json:"height"`
	DepthOrArraySize uint32 `json:"depth_or_array_size"`
	MipLevels        uint32 `json:"mip_levels"`
	SampleCount      uint32 `json:"sample_count"`
	Format           string `json:"format"`
	DXGIFormat       uint32 `json:"dxgi_format"`
	VkFormat         uint32 `json:"vk_format"`
	Tiling           string `json:"tiling"`
	Dedicated        bool   `json:"dedicated"`
	DriverUUID       string `json:"driver_uuid"`
	DeviceUUID       string `json:"device_uuid"`
}

func runLs(args []string) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	socket := fs.String("socket", broker.DefaultSocketPath(), "broker socket")
	asJSON := fs.Bool("json", false, "print JSON")
	fences := fs.Bool("fences", false, "list the shared fences (ID3D11Fence, ID3D12Fence, sync objects) instead of the resources")
	mutexes := fs.Bool("keyed-mutexes", false, "list the keyed-mutex objects (their resources, sync objects, holders and last releases) instead of the resources")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fences && *mutexes {
		return fmt.Errorf("ls: --fences and --keyed-mutexes list different objects: give one")
	}
	c, err := broker.Dial(*socket)
	if err != nil {
		return err
	}
	defer c.Close()
	if *fences {
		return lsFences(c, *asJSON)
	}
	if *mutexes {
		return lsKeyedMutexes(c, *asJSON)
	}
	list, err := c.List()
	if err != nil {
		return err
	}
	entries := make([]lsEntry, 0, len(list))
	for _, r := range list {
		entries = append(entries, newLsEntry(r))
	}
	return printReport(os.Stdout, *asJSON, entries, func(w io.Writer) { printLs(w, entries) })
}

// newLsEntry is r as ls reports it. Empty lists are made empty rather than
// nil, so that the JSON has [] where a script iterates, never null.
func newLsEntry(r broker.ResourceInfo) lsEntry {
	a := r.Allocation
	e := lsEntry{
		KMT: uint32(r.KMT), KMTHex: r.KMT.String(), Names: r.Names, Desc: a.Desc.String(),
		Allocation: lsAllocation{
			Dimension: a.Desc.Dimension.String(), Width: a.Desc.Width, Height: a.Desc.Height,
			DepthOrArraySize: a.Desc.DepthOrArraySize, MipLevels: a.Desc.MipLevels, SampleCount: a.Desc.SampleCount,
			Format: a.Desc.Format.String(), DXGIFormat: uint32(a.Desc.Format), VkFormat: a.VkFormat,
			Tiling: a.Tiling.String(), Dedicated: a.Dedicated, DriverUUID: a.Device.Driver.String(), DeviceUUID: a.Device.Device.String(),
		},
		Size: a.Size, DataLen: r.DataLen, CreatorPID: r.CreatorPID, CreatorConnected: r.CreatorConnected,
		Refs: r.Refs, NTHandles: r.NTHandles, Duplicates: r.Duplicates, Holders: []lsHolder{},
		SyncFDs: len(r.Syncs), SyncKinds: []string{}, Mutex: mutexSummary(r.Mutex),
	}
	for _, s := range r.Syncs {
		kind := "binary"
		if s.Timeline {
			kind = "timeline"
		}
		e.SyncKinds = append(e.SyncKinds, kind)
	}
	for _, h := range r.Holders {
		e.Holders = append(e.Holders, lsHolder(h))
	}
	e.memoryAndSync(a)
	e.AllocatedBy, e.AllocatedOn = "client", r.AllocatedOn
	if r.AllocatedOn != "" {
		e.AllocatedBy = "service"
	}
	if e.Names == nil {
		e.Names = []string{}
	}
	return e
}

// allocator is the ALLOCATED BY column: "service: " and the broker's
// device (or "host memory"), or "client".
func (e lsEntry) allocator() string {
	if e.AllocatedBy == "service" {
		return "service: " + e.AllocatedOn
	}
	return e.AllocatedBy
}

// printLs is ls's table: the facts a person looks for, in words.
func printLs(w io.Writer, entries []lsEntry) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tNAME\tDESC\tMEMORY\tALLOCATED BY\tSIZE\tPID\tREFS\tNT\tHOLDERS\tSYNC\tMUTEX")
	for _, e := range entries {
		name := "-"
		if len(e.Names) > 0 {
			name = strings.Join(e.Names, ",")
		}
		pid := fmt.Sprint(e.CreatorPID)
		if !e.CreatorConnected {
			pid += " (gone)"
		}
		holders := make([]string, len(e.Holders))
		for i, h := range e.Holders {
			holders[i] = fmt.Sprintf("pid %d×%d", h.PID, h.Refs)
		}
		syncs := e.SyncPath
		if e.SyncFDs > 0 {
			syncs += fmt.Sprintf(" (%d: %s)", e.SyncFDs, strings.Join(e.SyncKinds, ","))
		}
		memory := "vulkan (zero-copy on its device)"
		if e.Memory == "host" {
			memory = "host (copy path)"
		}
		nt := fmt.Sprint(e.NTHandles)
		if e.Duplicates > 0 {
			nt += fmt.Sprintf(" (+%d duplicating)", e.Duplicates)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", e.KMTHex, name, e.Desc, memory, e.allocator(), e.Size, pid, e.Refs, nt, strings.Join(holders, " "), syncs, e.Mutex)
	}
	tw.Flush()
}

// lsFence is one shared fence as `ls --fences` reports it; the JSON names
// are an interface for scripts.
type lsFence struct {
	KMT              uint32   `json:"kmt"`
	KMTHex           string   `json:"kmt_hex"`
	Names            []string `json:"names"`
	Timeline         bool     `json:"timeline"`
	Service          bool     `json:"service"`
	Value            uint64   `json:"value"`
	Signals          uint64   `json:"signals"`
	Offset           uint64   `json:"offset"`
	Waiters          int      `json:"waiters"`
	CreatorPID       int32    `json:"creator_pid"`
	CreatorConnected bool     `json:"creator_connected"`
	Refs             int      `json:"refs"`
	NTHandles        int      `json:"nt_handles"`
}

// lsFences prints the broker's fences: their values, who waits, how they
// are kept.
func lsFences(c *broker.Client, asJSON bool) error {
	list, err := c.ListFences()
	if err != nil {
		return err
	}
	fences := make([]lsFence, 0, len(list))
	for _, f := range list {
		e := lsFence{
			KMT: uint32(f.KMT), KMTHex: f.KMT.String(), Names: f.Names, Timeline: f.Timeline, Service: f.Service,
			Value: f.Value.Value, Signals: f.Value.Signals, Offset: f.Value.Offset, Waiters: f.Waiters,
			CreatorPID: f.CreatorPID, CreatorConnected: f.CreatorConnected, Refs: f.Refs, NTHandles: f.NTHandles,
		}
		if e.Names == nil {
			e.Names = []string{}
		}
		fences = append(fences, e)
	}
	return printReport(os.Stdout, asJSON, fences, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HANDLE\tNAME\tKEPT BY\tVALUE\tSIGNALS\tWAITERS\tPID\tREFS\tNT")
		for _, e := range fences {
			name := "-"
			if len(e.Names) > 0 {
				name = strings.Join(e.Names, ",")
			}
			kept := "broker (CPU waits)"
			switch {
			case e.Service:
				// The broker allocated the semaphore and does the CPU's
				// operations on it for processes without Vulkan.
				kept = fmt.Sprintf("the broker's timeline semaphore (offset %d)", e.Offset)
			case e.Timeline:
				// The broker's value is what CPU signals set; the GPU's
				// lives in the semaphore.
				kept = fmt.Sprintf("timeline semaphore (offset %d)", e.Offset)
			}
			pid := fmt.Sprint(e.CreatorPID)
			if !e.CreatorConnected {
				pid += " (gone)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\n", e.KMTHex, name, kept, e.Value, e.Signals, e.Waiters, pid, e.Refs, e.NTHandles)
		}
		tw.Flush()
	})
}

// lsKeyedMutex is one keyed-mutex object as `ls --keyed-mutexes` reports
// it; the JSON names are an interface for scripts. Resource and Sync are
// 0 for none.
type lsKeyedMutex struct {
	KMT              uint32  `json:"kmt"`
	KMTHex           string  `json:"kmt_hex"`
	Resource         uint32  `json:"resource"`
	Sync             uint32  `json:"sync"`
	Mutex            lsMutex `json:"mutex"`
	Releases         uint32  `json:"releases"`
	DataLen          uint32  `json:"data_len"`
	CreatorPID       int32   `json:"creator_pid"`
	CreatorConnected bool    `json:"creator_connected"`
	Refs             uint32  `json:"refs"`
}

// lsKeyedMutexes prints the broker's keyed-mutex objects: what they are
// the mutex of, who holds them, their last release.
func lsKeyedMutexes(c *broker.Client, asJSON bool) error {
	list, err := c.ListKeyedMutexes()
	if err != nil {
		return err
	}
	out := make([]lsKeyedMutex, 0, len(list))
	for _, m := range list {
		out = append(out, lsKeyedMutex{
			KMT: uint32(m.KMT), KMTHex: m.KMT.String(), Resource: uint32(m.Resource), Sync: uint32(m.Sync),
			Mutex: mutexSummary(m.Mutex), Releases: m.Events, DataLen: m.DataLen,
			CreatorPID: m.CreatorPID, CreatorConnected: m.CreatorActive, Refs: m.Refs,
		})
	}
	return printReport(os.Stdout, asJSON, out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HANDLE\tRESOURCE\tSYNC OBJECT\tPID\tREFS\tEVENTS\tMUTEX")
		for _, e := range out {
			hex := func(h uint32) string {
				if h == 0 {
					return "-"
				}
				return bridge.Handle(h).String()
			}
			pid := fmt.Sprint(e.CreatorPID)
			if !e.CreatorConnected {
				pid += " (gone)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", e.KMTHex, hex(e.Resource), hex(e.Sync), pid, e.Refs, e.Releases, e.Mutex)
		}
		tw.Flush()
	})
}
