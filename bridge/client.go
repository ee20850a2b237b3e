package bridge

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Client is a connection to the broker. It is safe for concurrent use: each
// request gets its own request id, writes are serialised, and one reader
// goroutine hands every reply (and the fds it carries) to the goroutine
// waiting for it, so slow and fast requests from different goroutines
// overlap on one connection.
//
// Every reference the connection holds is released when it closes, by
// Close, by process exit, or by a crash.
type Client struct {
	uc   *net.UnixConn
	wmu  sync.Mutex
	mu   sync.Mutex
	next uint32
	wait map[uint32]chan clientReply
	err  error // why the connection ended; set once, under mu
	done chan struct{}
	once sync.Once
}

type clientReply struct {
	h       header
	payload []byte
	fds     []int
}

// Resource is a resource as OpenKMT, OpenName and Query return it: the
// allocation record and private data, and for opens an fd ready for
// glimport or a Vulkan import.
type Resource struct {
	// Handle is the handle the call was about: for an open, the handle
	// this connection now holds and must CloseHandle (the KMT handle for
	// OpenKMT, a new NT handle for OpenName).
	Handle Handle
	// KMT is the resource's global handle.
	KMT Handle
	// Access is what Handle grants (KMT handles grant read and write).
	Access     Access
	Allocation Allocation
	// Data is the private runtime data; the caller may keep it.
	Data []byte
	// FD is the memory fd, owned by the caller: close it, or give it to an
	// import that takes ownership (glImportMemoryFdEXT,
	// vkAllocateMemory with VkImportMemoryFdInfoKHR). It is -1 from Query.
	// Each open returns a new fd for the same memory.
	FD int
}

// ResourceInfo is one resource as List reports it.
type ResourceInfo struct {
	KMT        Handle
	Names      []string
	Allocation Allocation
	// DataLen is the size of the private runtime data.
	DataLen int
	// CreatorPID is the pid of the creating process; CreatorConnected
	// says whether its connection is still open (only it may UpdateData).
	CreatorPID       int32
	CreatorConnected bool
	// Refs is the number of handle references keeping the resource alive:
	// the sum of Holders' Refs.
	Refs    int
	Holders []Holder
}

// Holder is a connection holding references to a resource.
type Holder struct {
	PID  int32
	UID  uint32
	Conn uint32 // the broker's connection number
	Refs int
}

// Dial connects to the broker listening at path (DefaultSocketPath() for
// the usual one).
func Dial(path string) (*Client, error) {
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("bridge: dial broker %s: %w", path, err)
	}
	c := &Client{uc: uc, wait: map[uint32]chan clientReply{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// Close closes the connection, which releases every handle it holds.
// Pending calls fail with ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.once.Do(func() { c.uc.Close() })
	<-c.done
	return nil
}

func (c *Client) readLoop() {
	buf := make([]byte, MaxMessageSize)
	oob := make([]byte, unix.CmsgSpace(4*MaxFDsPerMessage))
	var err error
	for {
		msg, fds, trunc, ctrunc, eof, rerr := readMsg(c.uc, buf, oob)
		if rerr != nil || eof {
			closeFDs(fds)
			err = rerr
			break
		}
		h, herr := decodeHeader(msg)
		if herr != nil || trunc || ctrunc || int(h.NumFDs) != len(fds) || h.Version != ProtocolVersion {
			// A broker that breaks the protocol cannot be trusted with
			// the rest of the conversation either.
			closeFDs(fds)
			err = fmt.Errorf("bridge: malformed reply from broker (%v, truncated=%v, fds %d/%d)", herr, trunc || ctrunc, len(fds), h.NumFDs)
			break
		}
		if h.Type == msgFatal {
			closeFDs(fds)
			err = &BrokerError{Code: h.Status, Detail: "broker dropped the connection: " + string(msg[HeaderSize:])}
			break
		}
		c.mu.Lock()
		ch, ok := c.wait[h.ID]
		delete(c.wait, h.ID)
		c.mu.Unlock()
		if !ok {
			closeFDs(fds)
			continue
		}
		ch <- clientReply{h: h, payload: append([]byte(nil), msg[HeaderSize:]...), fds: fds}
	}
	c.uc.Close()
	c.mu.Lock()
	if err == nil {
		err = ErrClosed
	} else if !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.err = err
	for id, ch := range c.wait {
		delete(c.wait, id)
		close(ch)
	}
	c.mu.Unlock()
	close(c.done)
}

// roundTrip sends q (with fds, which stay the caller's) and waits for the
// reply. A successful reply's fds belong to the caller; an error reply's
// are closed.
func (c *Client) roundTrip(op string, q request, fds []int) (clientReply, error) {
	ch := make(chan clientReply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return clientReply{}, fmt.Errorf("bridge: %s: %w", op, err)
	}
	c.next++
	q.ID = c.next
	c.wait[q.ID] = ch
	c.mu.Unlock()

	msg := encodeRequest(q)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	c.wmu.Lock()
	_, _, err := c.uc.WriteMsgUnix(msg, oob, nil)
	c.wmu.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.wait, q.ID)
		c.mu.Unlock()
		// A broker that dropped the connection usually said why first:
		// prefer the reader's account (which wraps ErrClosed and the
		// broker's reason) to the bare EPIPE.
		if errors.Is(err, net.ErrClosed) || errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
			select {
			case <-c.done:
				c.mu.Lock()
				err = c.err
				c.mu.Unlock()
			case <-time.After(time.Second):
			}
		}
		return clientReply{}, fmt.Errorf("bridge: %s: send: %w", op, err)
	}
	r, ok := <-ch
	if !ok {
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		return clientReply{}, fmt.Errorf("bridge: %s: %w", op, err)
	}
	if r.h.Status != 0 || r.h.Type != q.Type|replyBit {
		closeFDs(r.fds)
		if r.h.Status == 0 {
			return r, &BrokerError{Op: op, Code: ErrBadMessage, Detail: fmt.Sprintf("reply type %v to %v", r.h.Type, q.Type)}
		}
		return r, &BrokerError{Op: op, Code: r.h.Status, Detail: string(r.payload)}
	}
	return r, nil
}

// fixed decodes a reply payload of n little-endian uint32s.
func (r clientReply) fixed(op string, n int) ([]uint32, error) {
	if len(r.payload) != 4*n || len(r.fds) != 0 {
		closeFDs(r.fds)
		return nil, &BrokerError{Op: op, Code: ErrBadMessage, Detail: fmt.Sprintf("reply of %d bytes, %d fds", len(r.payload), len(r.fds))}
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = le.Uint32(r.payload[4*i:])
	}
	return v, nil
}

// Create registers a resource: its memory fd, the allocation record and
// private runtime data of at most MaxPrivateData bytes. It returns the
// resource's KMT handle, which this connection holds until CloseHandle.
// Create sends a copy of memFD; the caller still owns memFD and may close
// it once Create returns.
func (c *Client) Create(alloc Allocation, memFD int, data []byte) (Handle, error) {
	op := "create"
	if len(data) > MaxPrivateData {
		return 0, &BrokerError{Op: op, Code: ErrTooLarge, Detail: fmt.Sprintf("private data of %d bytes exceeds %d", len(data), MaxPrivateData)}
	}
	if memFD < 0 {
		panic("bridge: Create: negative memory fd")
	}
	r, err := c.roundTrip(op, request{header: header{Type: msgCreate}, Alloc: alloc, Data: data}, []int{memFD})
	if err != nil {
		return 0, err
	}
	v, err := r.fixed(op, 2)
	if err != nil {
		return 0, err
	}
	return Handle(v[0]), nil
}

// Share creates an NT handle on this connection to the resource h names
// (a KMT handle this connection holds, or one of its NT handles), granting
// access, which must not exceed what h grants. A non-empty name lets other
// processes OpenName it for as long as the resource lives; see ValidName.
func (c *Client) Share(h Handle, access Access, name string) (Handle, error) {
	op := "share " + h.String()
	if len(name) > MaxNameLen {
		return 0, &BrokerError{Op: op, Code: ErrBadName, Detail: fmt.Sprintf("name of %d bytes exceeds %d", len(name), MaxNameLen)}
	}
	r, err := c.roundTrip(op, request{header: header{Type: msgShare}, Handle: h, Access: access, Name: name}, nil)
	if err != nil {
		return 0, err
	}
	v, err := r.fixed(op, 2)
	if err != nil {
		return 0, err
	}
	return Handle(v[0]), nil
}

func (c *Client) open(op string, q request) (Resource, error) {
	r, err := c.roundTrip(op, q, nil)
	if err != nil {
		return Resource{FD: -1}, err
	}
	rec, err := decodeResourceRecord(r.payload)
	if err == nil && len(r.fds) != 1+int(rec.SyncCount) {
		err = perr(ErrBadMessage, "open reply carries %d fds for %d sync objects", len(r.fds), rec.SyncCount)
	}
	if err != nil {
		closeFDs(r.fds)
		err.(*BrokerError).Op = op
		return Resource{FD: -1}, err
	}
	return Resource{Handle: rec.Handle, KMT: rec.KMT, Access: rec.Access, Allocation: rec.Alloc, Data: rec.Data, FD: r.fds[0]}, nil
}

// OpenKMT opens a resource by its KMT global handle. The connection then
// holds one more reference through kmt, released by CloseHandle(kmt).
// The returned FD is the caller's.
func (c *Client) OpenKMT(kmt Handle) (Resource, error) {
	return c.open("open "+kmt.String(), request{header: header{Type: msgOpenKMT}, Handle: kmt})
}

// OpenName opens the resource shared under name, asking for access (at
// most what it was shared with). The result's Handle is a new NT handle
// of this connection. The returned FD is the caller's.
func (c *Client) OpenName(name string, access Access) (Resource, error) {
	op := fmt.Sprintf("open name %q", name)
	if len(name) > MaxNameLen {
		return Resource{FD: -1}, &BrokerError{Op: op, Code: ErrBadName, Detail: fmt.Sprintf("name of %d bytes exceeds %d", len(name), MaxNameLen)}
	}
	return c.open(op, request{header: header{Type: msgOpenName}, Access: access, Name: name})
}

// Query returns a resource's description and private data without an fd
// (FD is -1). h is any KMT handle, or an NT handle of this connection.
func (c *Client) Query(h Handle) (Resource, error) {
	op := "query " + h.String()
	r, err := c.roundTrip(op, request{header: header{Type: msgQuery}, Handle: h}, nil)
	if err != nil {
		return Resource{FD: -1}, err
	}
	rec, err := decodeResourceRecord(r.payload)
	if err == nil && len(r.fds) != 0 {
		err = perr(ErrBadMessage, "query reply carries %d fds", len(r.fds))
	}
	if err != nil {
		closeFDs(r.fds)
		err.(*BrokerError).Op = op
		return Resource{FD: -1}, err
	}
	return Resource{Handle: rec.Handle, KMT: rec.KMT, Access: rec.Access, Allocation: rec.Alloc, Data: rec.Data, FD: -1}, nil
}

// UpdateData replaces the resource's private runtime data. Only the
// connection that created the resource may, through any handle it holds.
func (c *Client) UpdateData(h Handle, data []byte) error {
	op := "update data " + h.String()
	if len(data) > MaxPrivateData {
		return &BrokerError{Op: op, Code: ErrTooLarge, Detail: fmt.Sprintf("private data of %d bytes exceeds %d", len(data), MaxPrivateData)}
	}
	r, err := c.roundTrip(op, request{header: header{Type: msgUpdateData}, Handle: h, Data: data}, nil)
	if err != nil {
		return err
	}
	_, err = r.fixed(op, 0)
	return err
}

// CloseHandle releases one reference this connection holds through h: an
// NT handle, or one create/open of a KMT handle. The last reference to a
// resource, on any connection, frees it. (Close, by contrast, ends the
// connection.)
func (c *Client) CloseHandle(h Handle) error {
	op := "close " + h.String()
	r, err := c.roundTrip(op, request{header: header{Type: msgClose}, Handle: h}, nil)
	if err != nil {
		return err
	}
	_, err = r.fixed(op, 0)
	return err
}

// List returns every live resource, in slot order. It takes several
// round trips when the resources do not fit in one message, so under
// concurrent changes it is a consistent view of each page, not of all.
func (c *Client) List() ([]ResourceInfo, error) {
	var out []ResourceInfo
	cursor := uint32(0)
	for {
		r, err := c.roundTrip("list", request{header: header{Type: msgList}, Cursor: cursor}, nil)
		if err != nil {
			return nil, err
		}
		if len(r.fds) != 0 {
			closeFDs(r.fds)
			return nil, &BrokerError{Op: "list", Code: ErrBadMessage, Detail: "list reply carries fds"}
		}
		next, entries, err := decodeListReply(r.payload)
		if err != nil {
			err.(*BrokerError).Op = "list"
			return nil, err
		}
		for _, e := range entries {
			refs := int(e.Refs)
			out = append(out, ResourceInfo{
				KMT: e.KMT, Names: e.Names, Allocation: e.Alloc, DataLen: int(e.DataLen),
				CreatorPID: e.CreatorPID, CreatorConnected: e.CreatorActive, Refs: refs, Holders: e.Holders,
			})
		}
		if next == 0 {
			return out, nil
		}
		if next <= cursor {
			return nil, &BrokerError{Op: "list", Code: ErrBadMessage, Detail: fmt.Sprintf("list cursor went from %d to %d", cursor, next)}
		}
		cursor = next
	}
}
