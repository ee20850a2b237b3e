package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// Broker limits, used when the Broker's fields are zero.
const (
	// DefaultMaxResources bounds the live resources. Each keeps its
	// memory fd (and its semaphores') open in the broker, so this bounds
	// the broker's fds too; MaxResources may go up to maxLiveResources.
	DefaultMaxResources = 16384
	// DefaultMaxConnections bounds the connections, each an fd and a
	// goroutine in the broker, so that clients that connect without end
	// are refused rather than exhaust it.
	DefaultMaxConnections = 1024
	// DefaultMaxHandlesPerConn bounds the references one connection may
	// hold, so that one client cannot exhaust the broker for the others.
	DefaultMaxHandlesPerConn = 65536
	// maxNamesPerResource bounds the names of one resource, which keeps
	// every list entry well below maxMessageSize.
	maxNamesPerResource = 8
)

// Default quotas, used when the Broker's quota fields are zero: what one
// connection, and all the connections of one uid together, may have the
// broker hold, counting the resources each created or had the broker
// allocate (CREATE and ALLOCATE) until they are freed. They leave a
// renderer's working set (a few hundred shared render targets and
// textures) far below them while keeping one client from taking the GPU's
// memory, or the broker's fds, from every other.
const (
	DefaultMaxResourcesPerConn        = 4096
	DefaultMaxResourcesPerUID         = DefaultMaxResources
	DefaultMaxBytesPerConn     uint64 = 8 << 30
	DefaultMaxBytesPerUID      uint64 = 32 << 30
)

// Broker names shared resources between processes: it keeps each
// resource's memory fd, description and private data, hands out KMT and NT
// handles, and passes dups of the fd to whoever opens a handle. Configure
// the exported fields before Serve; the zero value is a working broker that
// admits only its own uid.
//
// Every connection's references die with it, so a crashed client cannot
// leak resources. Each connection is served by one goroutine, in the order
// its requests arrive; one mutex guards the tables, and the only system
// calls made under it are fstat, dup and close. An ACQUIRE_SYNC that must
// wait is parked on its resource's waiter list (with a timer for its
// timeout) and answered later by whichever goroutine releases or abandons
// the keyed mutex, or by the timer; such late replies are written by
// goroutines of their own after the mutex is unlocked, so that a client
// that does not read cannot stall the broker or another client.
type Broker struct {
	// Logger receives connection and error events; nil means slog.Default().
	Logger *slog.Logger
	// AllowUIDs are admitted besides the broker's own uid (SO_PEERCRED).
	AllowUIDs []uint32
	// MaxResources (at most 65535), MaxConnections and MaxHandlesPerConn
	// override the defaults when non-zero.
	MaxResources      int
	MaxConnections    int
	MaxHandlesPerConn int
	// MaxResourcesPerConn, MaxResourcesPerUID, MaxBytesPerConn and
	// MaxBytesPerUID are the quotas (see DefaultMaxResourcesPerConn);
	// zero takes the default. Going over one is CodeQuota.
	MaxResourcesPerConn, MaxResourcesPerUID int
	MaxBytesPerConn, MaxBytesPerUID         uint64
	// RestoreWindow is how long after Serve starts the broker takes
	// RESTOREs: resources that a broker before a crash or restart handed
	// out, brought back by the processes that hold them (a Client dialled
	// with Reconnect does it by itself), under their old handles and
	// names. Meanwhile it holds back new resources and names (CREATE,
	// ALLOCATE, SHARE with a name wait for the window to close) and
	// answers an open of an unknown handle or name only after it, so that
	// nothing new takes what a returning resource had. Zero takes no
	// restorations: a broker that knows it starts afresh (glshare serve
	// after a clean stop) need not wait.
	RestoreWindow time.Duration
	// DuplicateTimeout is how long a DUPLICATE's transfer waits to be
	// opened before the broker drops it; zero takes
	// DefaultDuplicateTimeout.
	DuplicateTimeout time.Duration

	mu sync.Mutex
	// byIndex holds the live resources by their KMT handle's index.
	// nextIndex is the index the next new resource tries: indices are
	// handed out in sequence (from a random start, see initLocked), so
	// that a freed resource's handle names a new one only after 2^24 - 1
	// more were made, whatever MaxResources is.
	byIndex map[uint32]*resource
	// awaitingBind are restored keyed-mutex objects by the KMT handle of
	// the resource or sync object they wait for (keyedmutexobj.go).
	awaitingBind map[bridge.Handle]*resource
	nextIndex    uint32
	live         int
	// names holds the names of live resources by objectName.key.
	names     map[string]nameEntry
	conns     map[*brokerConn]struct{}
	listeners map[*net.UnixListener]struct{}
	nextConn  uint32
	closed    bool
	// done is closed by Shutdown, for waits outside b.mu.
	done chan struct{}
	// restoreUntil ends the restore window (zero: none); restored counts
	// the RESTOREs taken.
	restoreUntil time.Time
	restored     int
	wg           sync.WaitGroup
	// uidUsage is what each uid's resources hold, for the quotas.
	uidUsage map[uint32]*usage
	// devices are the helper devices ALLOCATE opened (Vulkan is loaded
	// on the first); graveyard holds the GPU objects of freed resources,
	// destroyed after b.mu is unlocked.
	devices   serviceDevices
	graveyard []io.Closer
	// transfers are the DUPLICATEs not yet opened, by token.
	transfers map[uint64]*transfer
}

// usage is what a connection or a uid has the broker hold.
type usage struct {
	bytes     uint64
	resources int
}

type resource struct {
	kmt        bridge.Handle
	index      uint32 // kmt's index, the key of b.byIndex
	alloc      bridge.Allocation
	memFD      int
	syncs      []syncObj
	data       []byte
	creator    *brokerConn
	creatorPID int32
	refs       int
	// nts counts the NT handles to res on every connection.
	nts     int
	names   []objectName
	holders map[*brokerConn]int
	mutex   keyedMutex
	// gl is the record's GL section, computed once.
	gl glSection
	// Who the resource is charged to, for the quotas: its creator's
	// connection and uid, for size bytes.
	chargeConn *brokerConn
	chargeUID  uint32
	charged    uint64
	// allocDevice names the helper device ALLOCATE allocated it on ("host
	// memory" for host memory); empty for a client's own (CREATE).
	// owned are the GPU objects behind it, destroyed when it is freed.
	allocDevice string
	owned       []io.Closer
	// fence is the state of a fence (CREATE_FENCE), nil for a resource;
	// a fence has no memory (memFD -1, a zero alloc) and at most one
	// sync object, its timeline semaphore.
	fence *fenceState
	// km makes the entry a keyed-mutex object (CREATE_KEYED_MUTEX), nil
	// otherwise; boundMutex is a resource's keyed-mutex object, which
	// keeps its mutex's state, nil while it has none (keyedmutexobj.go).
	km         *mutexObject
	boundMutex *resource
}

// syncObj is a semaphore fd the broker keeps for a resource; it closes fd
// when the resource is freed.
type syncObj struct {
	fd   int
	kind syncKind
}

// mutexOwner identifies who holds or waits for a keyed mutex: a handle on
// a connection, as each opened D3D resource has its own IDXGIKeyedMutex.
// For a KMT handle it stands for all of the connection's references
// through that handle.
type mutexOwner struct {
	c *brokerConn
	h bridge.Handle
}

// keyedMutex is a resource's IDXGIKeyedMutex state. Invariant: while the
// mutex is free no waiter could take it (none has key == lastKey, and
// none waits while it is free and abandoned), so grant only runs when it
// becomes free.
type keyedMutex struct {
	held  bool
	owner mutexOwner // valid while held
	// abandoned says a holder went without releasing: from then on every
	// acquirer takes the mutex with any key and is told so, as on
	// Windows.
	abandoned bool
	lastKey   uint64
	lastValue uint64
	// events counts releases and abandonments (see acquireReply).
	events  uint32
	waiters []*mutexWaiter // first come, first served
}

// mutexWaiter is an ACQUIRE_SYNC request waiting for its key.
type mutexWaiter struct {
	owner mutexOwner
	key   uint64
	req   header
	timer *time.Timer // nil for an infinite wait
}

// lateReply is a reply to a request that had to wait, sent once the
// broker's mutex is unlocked.
type lateReply struct {
	c   *brokerConn
	msg []byte
}

// nameEntry is a name of a resource. As on Windows the name is its named
// object's, the NT handles SHARE made with it and those opened from it:
// handles counts them (and the DUPLICATEs of them not yet opened), and
// the name goes with the last, though the resource may live on through
// other handles.
type nameEntry struct {
	res     *resource
	name    objectName
	handles int
}

// ntEntry is an NT handle of a connection: what it names and grants.
// mask is the access mask it was made with (bridge.Access.Grants gives
// access from it), which QUERY_OBJECT reports. name is the name of the
// object it is a handle to, as on Windows each named SHARE makes an
// object of that name and opening the name (or duplicating a handle)
// makes another handle to it; its path is empty for an unnamed one.
type ntEntry struct {
	res    *resource
	access bridge.Access
	mask   bridge.Access
	name   objectName
}

type brokerConn struct {
	msgConn
	id   uint32
	pid  int32
	uid  uint32
	log  *slog.Logger
	kmt  map[*resource]int
	nt   map[bridge.Handle]ntEntry
	refs int
	// transfers counts the DUPLICATEs this connection made that are not
	// opened yet.
	transfers int
	// session is the session whose namespace Local\ and plain names
	// resolve in (see resolveName).
	session uint32
	// use is what the resources this connection created hold.
	use usage
	// nextNT is the next NT handle value to try; values are handed out
	// increasing so that a closed handle is not soon reused.
	nextNT uint32
	dead   bool
	// fenceWaits counts this connection's WAIT_FENCEs waiting.
	fenceWaits int
}

func (b *Broker) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// limit is a configured limit v, or def where v is not above zero: the
// zero value of every Broker and Dialer field means the default.
func limit[T int | uint64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (b *Broker) maxResources() int {
	return min(limit(b.MaxResources, DefaultMaxResources), maxLiveResources)
}

// initLocked sets up the tables on first use, so the zero Broker works.
func (b *Broker) initLocked() {
	if b.names == nil {
		b.names = map[string]nameEntry{}
		b.conns = map[*brokerConn]struct{}{}
		b.listeners = map[*net.UnixListener]struct{}{}
		b.uidUsage = map[uint32]*usage{}
		b.byIndex = map[uint32]*resource{}
		b.transfers = map[uint64]*transfer{}
		b.done = make(chan struct{})
		// A random start keeps a handle a previous broker at this socket
		// handed out, still held by some process, from naming a new
		// resource of this one (but by a 1 in 2^24 chance).
		b.nextIndex = 1 + rand.Uint32N(bridge.MaxGlobalIndex)
	}
}

// Serve accepts connections on l until ctx ends or Shutdown is called, and
// serves each on its own goroutine. It always returns a non-nil error:
// bridge.ErrBrokerClosed after Shutdown or the end of ctx. When ctx ends, Serve
// shuts the broker down itself, dropping every connection. Serve closes l.
func (b *Broker) Serve(ctx context.Context, l *net.UnixListener) error {
	b.mu.Lock()
	b.initLocked()
	if b.closed {
		b.mu.Unlock()
		l.Close()
		return bridge.ErrBrokerClosed
	}
	b.listeners[l] = struct{}{}
	window := b.RestoreWindow > 0 && b.restoreUntil.IsZero()
	if window {
		b.restoreUntil = time.Now().Add(b.RestoreWindow)
	}
	b.mu.Unlock()
	log := b.logger()
	log.Info("broker listening", "addr", l.Addr().String())
	if window {
		log.Info("taking restorations", "for", b.RestoreWindow)
		time.AfterFunc(b.RestoreWindow, func() {
			b.mu.Lock()
			n, live := b.restored, b.live
			b.mu.Unlock()
			log.Info("restore window closed", "restores", n, "live", live)
		})
	}

	stop := context.AfterFunc(ctx, func() { b.Shutdown(context.Background()) })
	defer stop()

	var backoff time.Duration
	for {
		uc, err := l.AcceptUnix()
		if err != nil {
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return bridge.ErrBrokerClosed
			}
			// Out of fds and the like: wait and retry, as net/http does,
			// rather than give up serving the clients already connected.
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) || errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ECONNABORTED) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			b.Shutdown(context.Background())
			return fmt.Errorf("broker: accept: %w", err)
		}
		backoff = 0
		b.admit(uc)
	}
}

// admit checks the peer's credentials and starts serving it.
func (b *Broker) admit(uc *net.UnixConn) {
	log := b.logger()
	cred, err := peerCred(uc)
	if err != nil {
		log.Warn("rejecting connection: SO_PEERCRED", "err", err)
		uc.Close()
		return
	}
	if cred.Uid != uint32(unix.Getuid()) && !slices.Contains(b.AllowUIDs, cred.Uid) {
		log.Warn("rejecting connection from a foreign uid", "pid", cred.Pid, "uid", cred.Uid)
		b.reject(uc, CodeAccessDenied, fmt.Sprintf("uid %d may not use this broker", cred.Uid))
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		uc.Close()
		return
	}
	if len(b.conns) >= limit(b.MaxConnections, DefaultMaxConnections) {
		b.mu.Unlock()
		log.Warn("rejecting connection: too many connections", "pid", cred.Pid)
		b.reject(uc, CodeLimit, "too many connections")
		return
	}
	b.nextConn++
	c := &brokerConn{
		msgConn: msgConn{uc: uc}, id: b.nextConn, pid: cred.Pid, uid: cred.Uid,
		kmt: map[*resource]int{}, nt: map[bridge.Handle]ntEntry{}, nextNT: 4, session: defaultSession,
	}
	c.log = log.With("conn", c.id, "pid", c.pid)
	b.conns[c] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	c.log.Info("client connected", "uid", c.uid)
	go b.serveConn(c)
}

func peerCred(uc *net.UnixConn) (*unix.Ucred, error) {
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, cerr
}

// reject tells a peer why it is being dropped and drops it, without
// holding up the accept loop.
func (b *Broker) reject(uc *net.UnixConn, code Code, text string) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		uc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		uc.Write(fatalMessage(code, text))
		lingerClose(uc)
	}()
}

// lingerClose closes a connection after a last message. Closing a unix
// socket with unread input makes the peer's next read fail with
// ECONNRESET before it sees that message, so the broker first stops
// writing and then discards what the peer still sends, briefly, until it
// hangs up.
func lingerClose(uc *net.UnixConn) {
	uc.CloseWrite()
	uc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf, oob := make([]byte, 512), make([]byte, oobSize)
	for {
		_, fds, _, _, eof, err := readMsg(uc, buf, oob)
		fdutil.CloseAll(fds)
		if eof || err != nil {
			break
		}
	}
	uc.Close()
}

// replyTo builds the reply to the request with header h: status 0 and
// a payload announcing nfds fds, or an error code and its text. Its type
// is the request's with replyBit set; a request whose type has that bit
// already, or is 0x7fff, is answered with replyBit alone, so that no reply
// can look like a FATAL message (type 0xffff, id 0), which only
// fatalMessage builds.
func replyTo(h header, status Code, payload []byte, nfds int) []byte {
	t := h.Type | replyBit
	if h.Type&replyBit != 0 || t == msgFatal {
		t = replyBit
	}
	return message(h, t, status, payload, nfds)
}

// fatalMessage is the FATAL message the broker sends, with request id 0, just
// before it drops a connection: code, explained by text.
func fatalMessage(code Code, text string) []byte {
	return message(header{}, msgFatal, code, []byte(cutText(text, maxErrorText)), 0)
}

// message builds a message of type t answering h (its id and version).
func message(h header, t msgType, status Code, payload []byte, nfds int) []byte {
	v := replyVersion(h)
	b := appendHeader(make([]byte, 0, headerSize+len(payload)), header{
		Version: v, Type: t, ID: h.ID, PayloadLen: uint32(len(payload)), NumFDs: uint16(nfds), Status: status,
	})
	return append(b, payload...)
}

// replyVersion is the version a reply to h is written in: the request's,
// so that a version-1 client reads version-1 replies; the current one
// for a request of no version the broker speaks.
func replyVersion(h header) uint16 {
	if h.Version == protocolVersion1 {
		return protocolVersion1
	}
	return protocolVersion
}

// errorReply is the reply to the request with header h that fails it with
// code (as h's version knows it), explained by text, cut to maxErrorText.
func errorReply(h header, code Code, text string) []byte {
	return replyTo(h, code.forVersion(replyVersion(h)), []byte(cutText(text, maxErrorText)), 0)
}

// cutText cuts text to at most n bytes without splitting a UTF-8
// character, since the protocol promises error texts of valid UTF-8 (a
// name of multi-byte characters quoted in a NOT_FOUND text would
// otherwise end in half of one).
func cutText(text string, n int) string {
	if len(text) <= n {
		return text
	}
	// text[n] is the first byte left out: back up to the start of the
	// character it belongs to.
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n]
}

// msgConn is one end of a protocol connection, the broker's or a client's.
type msgConn struct {
	uc *net.UnixConn
	// wmu serialises writes: on either end, replies or requests come from
	// several goroutines.
	wmu sync.Mutex
}

// oobSize is the control buffer that receives the most fds a message may
// carry; the kernel drops (closes) any beyond it and says so.
var oobSize = unix.CmsgSpace(4 * maxFDsPerMessage)

// write sends msg with fds as one message. The fds stay the caller's: the
// peer receives copies.
func (m *msgConn) write(msg []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_, _, err := m.uc.WriteMsgUnix(msg, oob, nil)
	return err
}

// readMsg reads one message from uc into buf and oob and returns it with
// the fds that came with it, which the caller owns. truncated says the
// message or its fds did not fit (the kernel dropped the excess). eof says
// the peer has gone: a zero-byte read without fds, which SOCK_SEQPACKET
// also gives for an empty message, so protocol peers never send one.
func readMsg(uc *net.UnixConn, buf, oob []byte) (msg []byte, fds []int, truncated, ctrunc, eof bool, err error) {
	n, oobn, flags, _, err := uc.ReadMsgUnix(buf, oob)
	if oobn > 0 {
		// Collect the fds even when the read failed: they are ours now.
		if cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for _, cm := range cmsgs {
				if cm.Header.Level == unix.SOL_SOCKET && cm.Header.Type == unix.SCM_RIGHTS {
					if got, rerr := unix.ParseUnixRights(&cm); rerr == nil {
						fds = append(fds, got...)
					}
				}
			}
		}
	}
	if errors.Is(err, io.EOF) {
		return nil, fds, false, false, true, nil
	}
	if err != nil {
		return nil, fds, false, false, false, err
	}
	if n == 0 && oobn == 0 {
		return nil, nil, false, false, true, nil
	}
	return buf[:n], fds, flags&unix.MSG_TRUNC != 0, flags&unix.MSG_CTRUNC != 0, false, nil
}

func (b *Broker) serveConn(c *brokerConn) {
	defer b.wg.Done()
	linger := false
	defer func() { b.dropConn(c, linger) }()
	buf, oob := make([]byte, maxMessageSize), make([]byte, oobSize)
	for {
		msg, fds, trunc, ctrunc, eof, err := readMsg(c.uc, buf, oob)
		if err != nil || eof {
			fdutil.CloseAll(fds)
			if err != nil && !errors.Is(err, net.ErrClosed) {
				c.log.Info("connection read failed", "err", err)
			}
			return
		}
		reply, replyFDs, fatal := b.handleMsg(c, msg, fds, trunc, ctrunc)
		if reply == nil {
			continue
		}
		werr := c.write(reply, replyFDs)
		fdutil.CloseAll(replyFDs)
		if werr != nil {
			c.log.Info("connection write failed", "err", werr)
			return
		}
		if fatal {
			linger = true
			return
		}
	}
}

// handleMsg answers one message. It owns fds: it stores or closes every
// one. It returns the reply, dups to send with it (the caller closes them
// after sending), and whether the connection must then be dropped.
func (b *Broker) handleMsg(c *brokerConn, msg []byte, fds []int, trunc, ctrunc bool) (reply []byte, replyFDs []int, fatal bool) {
	// A peer that does not speak the protocol at all is dropped: there
	// is no telling where its next message starts.
	foreign := func() ([]byte, []int, bool) {
		c.log.Warn("dropping client: not speaking the protocol")
		return fatalMessage(errBadMagic.Code, errBadMagic.Detail), nil, true
	}
	if trunc || ctrunc {
		fdutil.CloseAll(fds)
		h, herr := decodeHeader(msg)
		if herr == errBadMagic {
			return foreign()
		}
		if trunc {
			c.log.Warn("message too large", "type", h.Type, "limit", maxMessageSize)
			return errorReply(h, CodeTooLarge, fmt.Sprintf("message exceeds %d bytes", maxMessageSize)), nil, false
		}
		// The kernel truncates the control data for two reasons: more fds
		// than the buffer holds, which fills it, or no fd free in the
		// broker to receive one into, which leaves it short.
		if len(fds) < maxFDsPerMessage {
			c.log.Warn("could not receive a message's fds: out of fds?", "type", h.Type, "received", len(fds))
			return errorReply(h, CodeInternal, fmt.Sprintf("the broker could not receive the message's fds (received %d; out of file descriptors?); all closed, retrying may succeed", len(fds))), nil, false
		}
		c.log.Warn("too many fds", "type", h.Type, "limit", maxFDsPerMessage, "closed", len(fds))
		return errorReply(h, CodeBadFDs, fmt.Sprintf("more than %d fds; all closed", maxFDsPerMessage)), nil, false
	}
	q, err := decodeRequest(msg, len(fds))
	if err != nil {
		fdutil.CloseAll(fds)
		if err == errBadMagic {
			return foreign()
		}
		be := err.(*Error)
		c.log.Warn("bad request", "type", q.Type, "id", q.ID, "err", err)
		return errorReply(q.header, be.Code, be.Detail), nil, false
	}
	var payload []byte
	var outFDs []int
	var waiting bool
	if holdsBack(q) {
		b.awaitRestoreWindow()
	}
	if q.Type == msgAllocate {
		// Allocating takes a GPU's time, which no other request may
		// wait for: allocate holds b.mu only to book and register.
		payload, outFDs, err = b.allocate(c, q)
	} else if q.Type == msgCreateFence && q.FenceFlags&createFenceService != 0 {
		payload, outFDs, err = b.createServiceFence(c, q)
	} else {
		var lent *lentFDs
		payload, outFDs, lent, waiting, err = b.handle(c, q, fds)
		if opens(q) && errors.Is(err, CodeNotFound) && b.inRestoreWindow() {
			// What is not found may yet be restored.
			b.awaitRestoreWindow()
			payload, outFDs, lent, waiting, err = b.handle(c, q, nil)
		}
		if lent != nil {
			outFDs, err = b.dupLent(c, lent)
		}
	}
	if waiting {
		return nil, nil, false
	}
	if err != nil {
		var be *Error
		if !errors.As(err, &be) {
			be = &Error{Code: CodeInternal, Detail: err.Error()}
		}
		c.log.Debug("request failed", "type", q.Type, "id", q.ID, "err", err)
		return errorReply(q.header, be.Code, be.Detail), nil, false
	}
	return replyTo(q.header, 0, payload, len(outFDs)), outFDs, false
}

// handle performs a decoded request. It owns fds (create and attach-sync
// carry some): on success those store them, and on any error they are
// closed here. waiting says the request (an acquire-sync) was parked and
// will be answered later, by a late reply.
func (b *Broker) handle(c *brokerConn, q request, fds []int) (payload []byte, outFDs []int, lent *lentFDs, waiting bool, err error) {
	stored := false
	defer func() {
		if !stored {
			fdutil.CloseAll(fds)
		}
	}()
	// Late replies this request causes (a release wakes a waiter, a close
	// abandons a mutex) go out after the unlock.
	late, unlock := b.lock()
	defer unlock()
	if b.closed {
		return nil, nil, nil, false, perr(CodeInternal, "broker is shutting down")
	}
	switch q.Type {
	case msgCreate:
		h, err := b.create(c, q, fds)
		if err != nil {
			return nil, nil, nil, false, err
		}
		stored = true
		c.log.Debug("created", "handle", h, "size", q.Alloc.Size, "syncs", len(q.Kinds))
		return fixedPayload(uint32(h), 0), nil, nil, false, nil
	case msgShare:
		payload, outFDs, err = b.share(c, q)
	case msgOpenKMT:
		payload, lent, err = b.openKMT(c, q)
	case msgOpenName:
		payload, lent, err = b.openName(c, q)
	case msgQuery:
		res, access, err := b.lookup(c, q.Handle, true)
		if err == nil {
			err = wrongType(q, res)
		}
		if err != nil {
			return nil, nil, nil, false, err
		}
		return res.record(q.Handle, access, q.Version), nil, nil, false, nil
	case msgUpdateData:
		res, have, err := b.lookup(c, q.Handle, false)
		if err == nil {
			err = wrongType(q, res)
		}
		if err != nil {
			return nil, nil, nil, false, err
		}
		if res.creator != c {
			return nil, nil, nil, false, perr(CodeAccessDenied, "only the creator may update the private data of %v", res.kmt)
		}
		if err := needWrite(q.Handle, have, "UPDATE_DATA"); err != nil {
			return nil, nil, nil, false, err
		}
		res.data = slices.Clone(q.Data)
	case msgClose:
		err = b.closeHandle(c, q.Handle, late)
	case msgList:
		payload = b.list(q.Cursor, q.ListFlags, q.Version)
	case msgAttachSync:
		if payload, err = b.attachSync(c, q, fds[0]); err == nil {
			stored = true
		}
	case msgAcquireSync:
		payload, waiting, err = b.acquire(c, q)
	case msgReleaseSync:
		err = b.releaseSync(c, q, late)
	case msgDuplicate:
		payload, err = b.duplicate(c, q, late)
	case msgOpenDuplicate:
		payload, outFDs, err = b.openDuplicate(c, q)
	case msgQueryObject:
		payload, err = b.queryObject(c, q)
	case msgRestore:
		// restore keeps or closes every fd itself.
		stored = true
		payload, err = b.restore(c, q, fds, late)
	case msgCreateFence:
		res, err := b.createFence(c, q, fds)
		if err != nil {
			return nil, nil, nil, false, err
		}
		stored = true
		c.log.Debug("fence created", "handle", res.kmt, "value", q.Value, "timeline", len(fds) > 0)
		return fixedPayload(uint32(res.kmt), 0), nil, nil, false, nil
	case msgOpenFence:
		payload, outFDs, err = b.openFence(c, q)
	case msgSignalFence:
		payload, err = b.signalFence(c, q, late)
	case msgWaitFence:
		payload, waiting, err = b.waitFence(c, q)
	case msgGetFence:
		payload, err = b.getFence(c, q)
	case msgListFences:
		if q.ListFlags&listFencesFlagKeyedMutexes != 0 {
			payload = b.listKeyedMutexes(q.Cursor)
		} else {
			payload = b.listFences(q.Cursor)
		}
	case msgRestoreFence:
		stored = true
		payload, err = b.restoreFence(c, q, fds, late)
	case msgCreateKeyedMutex:
		mo, err := b.createKeyedMutex(c, q)
		if err != nil {
			return nil, nil, nil, false, err
		}
		c.log.Debug("keyed mutex created", "handle", mo.kmt, "resource", q.Handle, "sync", q.Sync)
		return appendKeyedMutexRecord(nil, mo.keyedMutexRecord()), nil, nil, false, nil
	case msgOpenKeyedMutex:
		payload, err = b.openKeyedMutex(c, q)
	case msgRestoreKeyedMutex:
		payload, err = b.restoreKeyedMutex(c, q, late)
	case msgSetSession:
		err = b.setSession(c, q)
	default:
		panic("broker: decodeRequest let through " + q.Type.String())
	}
	return payload, outFDs, lent, waiting, err
}

// checkFD refuses fds that cannot be memory or a semaphore: a socket or
// directory is neither, and refusing them also keeps clients from parking
// connections inside the broker.
func checkFD(fd int, what string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return perr(CodeBadFDs, "fstat %s fd: %v", what, err)
	}
	if t := st.Mode & unix.S_IFMT; t == unix.S_IFSOCK || t == unix.S_IFDIR {
		return perr(CodeBadFDs, "%s fd is a socket or directory (mode %#o)", what, st.Mode)
	}
	return nil
}

// checkHostMemory refuses host memory every opener could not map safely:
// it must be a memfd sealed against shrinking and growing (so that no
// holder can make another's mapping fault with SIGBUS) and hold at least
// the size its record declares.
func checkHostMemory(fd int, size uint64) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return perr(CodeBadFDs, "fstat host memory fd: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return perr(CodeBadFDs, "host memory fd is not a memfd (mode %#o)", st.Mode)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return perr(CodeBadFDs, "host memory fd is not a memfd: F_GET_SEALS: %v", err)
	}
	const need = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW
	if seals&need != need {
		return perr(CodeBadFDs, "host memory memfd is not sealed against shrinking and growing (seals %#x)", seals)
	}
	if uint64(st.Size) < size {
		return perr(CodeBadFDs, "host memory memfd holds %d bytes; the record declares %d", st.Size, size)
	}
	return nil
}

func (res *resource) kinds() []syncKind {
	var k []syncKind
	for _, s := range res.syncs {
		k = append(k, s.kind)
	}
	return k
}

func (b *Broker) create(c *brokerConn, q request, fds []int) (bridge.Handle, error) {
	if q.Alloc.Size == 0 || q.Alloc.Offset >= q.Alloc.Size {
		return 0, perr(CodeInvalid, "allocation size %d, offset %d", q.Alloc.Size, q.Alloc.Offset)
	}
	// Every opener trusts the description to import the memory, so a
	// resource no Direct3D runtime could have made is refused here once
	// rather than by each importer.
	if err := q.Alloc.Desc.Validate(); err != nil {
		return 0, perr(CodeInvalidDesc, "%v", err)
	}
	if err := checkFD(fds[0], "memory"); err != nil {
		return 0, err
	}
	if q.Alloc.HostMemory {
		if err := checkHostMemory(fds[0], q.Alloc.Size); err != nil {
			return 0, err
		}
	}
	for i := range q.Kinds {
		if err := checkFD(fds[1+i], fmt.Sprintf("sync object %d", i)); err != nil {
			return 0, err
		}
	}
	if err := b.roomForResource(c, q.Alloc.Size); err != nil {
		return 0, err
	}
	var syncs []syncObj
	for i, k := range q.Kinds {
		syncs = append(syncs, syncObj{fd: fds[1+i], kind: k})
	}
	return b.register(c, q.Alloc, fds[0], syncs, q.Data).kmt, nil
}

// roomForResource refuses c a new resource of size bytes when the broker,
// c, or c's uid has no room for it.
func (b *Broker) roomForResource(c *brokerConn, size uint64) error {
	if err := b.roomForRef(c); err != nil {
		return err
	}
	if b.live >= b.maxResources() {
		return perr(CodeLimit, "%d resources exist", b.live)
	}
	return b.checkQuota(c, size)
}

// Quotas are the quotas a Broker applies: its quota fields, with the
// defaults in place of the zero ones.
type Quotas struct {
	ResourcesPerConn, ResourcesPerUID int
	BytesPerConn, BytesPerUID         uint64
}

// Quotas returns the quotas b applies, for a log or a status line.
func (b *Broker) Quotas() Quotas {
	return Quotas{
		ResourcesPerConn: limit(b.MaxResourcesPerConn, DefaultMaxResourcesPerConn),
		ResourcesPerUID:  limit(b.MaxResourcesPerUID, DefaultMaxResourcesPerUID),
		BytesPerConn:     limit(b.MaxBytesPerConn, DefaultMaxBytesPerConn),
		BytesPerUID:      limit(b.MaxBytesPerUID, DefaultMaxBytesPerUID),
	}
}

// checkQuota refuses c a resource of size bytes more than it and its uid
// hold.
func (b *Broker) checkQuota(c *brokerConn, size uint64) error {
	u := b.uidUsage[c.uid]
	if u == nil {
		u = &usage{}
	}
	qs := b.Quotas()
	for _, q := range [...]struct {
		who      string
		have     usage
		maxRes   int
		maxBytes uint64
	}{
		{"connection", c.use, qs.ResourcesPerConn, qs.BytesPerConn},
		{fmt.Sprintf("uid %d", c.uid), *u, qs.ResourcesPerUID, qs.BytesPerUID},
	} {
		if q.have.resources >= q.maxRes {
			return perr(CodeQuota, "the %s holds %d resources, its quota", q.who, q.have.resources)
		}
		if q.have.bytes+size > q.maxBytes || q.have.bytes+size < size {
			return perr(CodeQuota, "the %s holds %d bytes; %d more exceed its quota of %d", q.who, q.have.bytes, size, q.maxBytes)
		}
	}
	return nil
}

// charge books n resources of size bytes to c and its uid (n -1 and the
// size of a freed one un-books it).
func (b *Broker) charge(c *brokerConn, uid uint32, n int, size uint64, add bool) {
	u := b.uidUsage[uid]
	if u == nil {
		u = &usage{}
		b.uidUsage[uid] = u
	}
	for _, x := range []*usage{&c.use, u} {
		if add {
			x.resources += n
			x.bytes += size
		} else {
			x.resources -= n
			x.bytes -= size
		}
	}
	if u.resources == 0 && u.bytes == 0 {
		delete(b.uidUsage, uid)
	}
}

// register makes a resource of c's from a record and its fds (which it
// owns from here), under a new KMT index, charged to c; the caller checked
// roomForResource.
func (b *Broker) register(c *brokerConn, alloc bridge.Allocation, memFD int, syncs []syncObj, data []byte) *resource {
	index := b.newIndex()
	res := &resource{
		kmt: bridge.GlobalHandle(index), index: index, alloc: alloc, memFD: memFD, syncs: syncs,
		data: slices.Clone(data), creator: c, creatorPID: c.pid, holders: map[*brokerConn]int{},
		gl: glSectionOf(alloc), chargeConn: c, chargeUID: c.uid, charged: alloc.Size,
	}
	b.charge(c, c.uid, 1, alloc.Size, true)
	b.byIndex[index] = res
	b.live++
	b.addKMTRef(c, res)
	return res
}

// unregister takes back the reference register gave c, whose reply cannot
// carry res after all (its fds could not be dup'd): the last frees it.
func (b *Broker) unregister(c *brokerConn, res *resource) {
	if c.kmt[res]--; c.kmt[res] == 0 {
		delete(c.kmt, res)
	}
	b.release(c, res)
}

// newIndex is the KMT index of a new resource: the next in sequence that
// no live resource has (the caller checked that fewer than
// maxLiveResources live, so one is found).
func (b *Broker) newIndex() uint32 {
	for {
		i := b.nextIndex
		if b.nextIndex++; b.nextIndex > bridge.MaxGlobalIndex {
			b.nextIndex = 1
		}
		if b.byIndex[i] == nil {
			return i
		}
	}
}

// roomForRef refuses c another reference once it holds MaxHandlesPerConn.
func (b *Broker) roomForRef(c *brokerConn) error {
	if c.refs >= limit(b.MaxHandlesPerConn, DefaultMaxHandlesPerConn) {
		return perr(CodeLimit, "connection holds %d references", c.refs)
	}
	return nil
}

// addRef counts one more reference of c to res; the caller records what
// it is held through.
func (b *Broker) addRef(c *brokerConn, res *resource) {
	res.refs++
	res.holders[c]++
	c.refs++
}

// addKMTRef adds a reference of c to res through its KMT handle, as a
// create and each open of it do.
func (b *Broker) addKMTRef(c *brokerConn, res *resource) {
	b.addRef(c, res)
	c.kmt[res]++
}

// release drops one reference of c to res and frees res with the last.
func (b *Broker) release(c *brokerConn, res *resource) {
	c.refs--
	if res.holders[c]--; res.holders[c] == 0 {
		delete(res.holders, c)
	}
	b.unref(res)
}

// unref drops one reference to res, a connection's or a transfer's, and
// frees res with the last.
func (b *Broker) unref(res *resource) {
	if res.refs--; res.refs > 0 {
		return
	}
	fdutil.CloseAll(res.fds())
	b.charge(res.chargeConn, res.chargeUID, 1, res.charged, false)
	b.graveyard = append(b.graveyard, res.owned...)
	// Every waiter holds a reference, so none is left; the loop only
	// guards the invariant.
	for _, w := range res.mutex.waiters {
		w.stop()
	}
	if res.fence != nil {
		for _, w := range res.fence.waiters {
			w.stop()
		}
	}
	for _, n := range res.names {
		delete(b.names, n.key)
	}
	delete(b.byIndex, res.index)
	b.live--
	b.unbindMutex(res)
}

// resolveKMT finds the live resource a KMT handle names.
func (b *Broker) resolveKMT(h bridge.Handle) (*resource, error) {
	res := b.byIndex[h.GlobalIndex()]
	if res == nil {
		return nil, perr(CodeNotFound, "no resource %v (freed, forged, or of a broker before a restart)", h)
	}
	return res, nil
}

// lookup finds the resource h names for c. A KMT handle must be held by c
// unless global is set (query works on any KMT handle, as
// D3DKMTQueryResourceInfo does); KMT handles grant read and write.
func (b *Broker) lookup(c *brokerConn, h bridge.Handle, global bool) (*resource, bridge.Access, error) {
	switch {
	case h.IsKMT():
		res, err := b.resolveKMT(h)
		if err != nil {
			return nil, 0, err
		}
		if !global && c.kmt[res] == 0 {
			return nil, 0, perr(CodeNotFound, "this connection holds no reference through %v", h)
		}
		return res, bridge.AccessReadWrite, nil
	case h.IsNT():
		e, ok := c.nt[h]
		if !ok {
			return nil, 0, perr(CodeNotFound, "no NT handle %v on this connection", h)
		}
		return e.res, e.access, nil
	}
	return nil, 0, perr(CodeBadHandle, "%v is neither a KMT nor an NT handle", h)
}

// newNT makes an NT handle of c to res that grants access, made with
// mask, to the object of name (unnamed for an empty path).
func (b *Broker) newNT(c *brokerConn, res *resource, access, mask bridge.Access, name objectName) (bridge.Handle, error) {
	if err := b.roomForRef(c); err != nil {
		return 0, err
	}
	for {
		h := bridge.Handle(c.nextNT)
		c.nextNT += 4
		if c.nextNT >= 0x40000000 {
			c.nextNT = 4
		}
		if _, used := c.nt[h]; !used {
			c.nt[h] = ntEntry{res: res, access: access, mask: mask, name: name}
			res.nts++
			b.addRef(c, res)
			b.holdName(res, name)
			return h, nil
		}
	}
}

// holdName counts one more handle of the object of name (none for an
// unnamed one) to res, registering the name with the first.
func (b *Broker) holdName(res *resource, name objectName) {
	if name.key == "" {
		return
	}
	e, ok := b.names[name.key]
	if !ok {
		e = nameEntry{res: res, name: name}
		res.names = append(res.names, name)
	}
	e.handles++
	b.names[name.key] = e
}

// dropName counts one handle of the object of name less, and frees the
// name with the last.
func (b *Broker) dropName(name objectName) {
	e, ok := b.names[name.key]
	if !ok {
		return
	}
	if e.handles--; e.handles > 0 {
		b.names[name.key] = e
		return
	}
	delete(b.names, name.key)
	e.res.names = slices.DeleteFunc(e.res.names, func(n objectName) bool { return n.key == name.key })
}

func (b *Broker) share(c *brokerConn, q request) ([]byte, []int, error) {
	if _, known := q.Access.Grants(); !known {
		return nil, nil, perr(CodeInvalid, "access %#x has bits no shared resource right has", uint32(q.Access))
	}
	res, have, err := b.lookup(c, q.Handle, false)
	if err != nil {
		return nil, nil, err
	}
	if res.km != nil {
		// As D3DKMT has it: a keyed mutex is shared through its global
		// handle, or bundled with its resource's NT handle.
		return nil, nil, perr(CodeWrongType, "%v is a keyed mutex, which has no NT handles of its own", res.kmt)
	}
	access, mask, err := grant(q.Access, have)
	if err != nil {
		return nil, nil, err
	}
	var name objectName
	if q.Name != "" {
		if err := ValidName(q.Name); err != nil {
			return nil, nil, err
		}
		if name, err = resolveName(q.Name, c.session); err != nil {
			return nil, nil, err
		}
		if e, taken := b.names[name.key]; taken {
			return nil, nil, perr(CodeNameTaken, "%q is %s, a name of %v", q.Name, e.name.path, e.res.kmt)
		}
		if len(res.names) >= maxNamesPerResource {
			return nil, nil, perr(CodeLimit, "%v already has %d names", res.kmt, len(res.names))
		}
	}
	// The new handle's object is named: newNT registers the name.
	nt, err := b.newNT(c, res, access, mask, name)
	if err != nil {
		return nil, nil, err
	}
	return fixedPayload(uint32(nt), uint32(access)), nil, nil
}

// record is res as an open, query or allocate reply of protocol version v
// describes it to the holder of handle h, which grants access.
func (res *resource) record(h bridge.Handle, access bridge.Access, v uint16) []byte {
	return appendResourceRecord(nil, resourceRecord{
		Version: v, Handle: h, KMT: res.kmt, Access: access, Kinds: res.kinds(), Alloc: res.alloc,
		ServiceAllocated: res.allocDevice != "", GL: res.gl, Data: res.data,
	})
}

// fds returns the fds the broker keeps for res in the order an open reply
// carries them: memory first, then the sync objects.
func (res *resource) fds() []int {
	var fds []int
	if res.memFD >= 0 { // a fence has no memory
		fds = append(fds, res.memFD)
	}
	for _, s := range res.syncs {
		fds = append(fds, s.fd)
	}
	return fds
}

// lentFDs are the fds of a resource an open reply is to carry copies of,
// which the broker makes after it unlocks its tables (dups are system
// calls, which its lock should not wait for): the open's new reference,
// through undo, keeps the resource, and so these fds, alive meanwhile.
type lentFDs struct {
	fds  []int
	undo bridge.Handle
}

// lend is res's fds for an open that took a reference through h.
func (res *resource) lend(h bridge.Handle) *lentFDs {
	return &lentFDs{fds: res.fds(), undo: h}
}

// dupLent makes the copies an open's reply carries, without b.mu. If that
// fails (out of fds), the open is undone: its reference goes, and the
// request fails.
func (b *Broker) dupLent(c *brokerConn, l *lentFDs) ([]int, error) {
	out, _, err := fdutil.DupAll(l.fds)
	if err != nil {
		late, unlock := b.lock()
		b.closeHandle(c, l.undo, late)
		unlock()
		return nil, perr(CodeInternal, "fd for the open reply: %v", err)
	}
	return out, nil
}

// dupFDs makes the copies of res's fds that an open reply carries; the
// broker keeps its own.
func (res *resource) dupFDs() ([]int, error) {
	out, i, err := fdutil.DupAll(res.fds())
	if err != nil {
		what := "memory"
		if res.fence != nil {
			what = "fence semaphore"
		} else if i > 0 {
			what = fmt.Sprintf("sync object %d", i-1)
		}
		return nil, perr(CodeInternal, "%s fd: %v", what, err)
	}
	return out, nil
}

func (b *Broker) openKMT(c *brokerConn, q request) ([]byte, *lentFDs, error) {
	res, err := b.openableKMT(c, q)
	if err != nil {
		return nil, nil, err
	}
	b.addKMTRef(c, res)
	return res.record(res.kmt, bridge.AccessReadWrite, q.Version), res.lend(res.kmt), nil
}

// openableKMT is the live object of q's kind (a resource, or a fence for
// OPEN_FENCE) that q's KMT handle names, if c may take another reference
// to it: the checks every open by KMT handle makes.
func (b *Broker) openableKMT(c *brokerConn, q request) (*resource, error) {
	if !q.Handle.IsKMT() {
		return nil, perr(CodeBadHandle, "%v is not a KMT handle", q.Handle)
	}
	res, err := b.resolveKMT(q.Handle)
	if err != nil {
		return nil, err
	}
	if err := wrongType(q, res); err != nil {
		return nil, err
	}
	if err := b.roomForRef(c); err != nil {
		return nil, err
	}
	return res, nil
}

func (b *Broker) openName(c *brokerConn, q request) ([]byte, *lentFDs, error) {
	e, access, mask, err := b.openableName(c, q, "resource")
	if err != nil {
		return nil, nil, err
	}
	nt, err := b.newNT(c, e.res, access, mask, e.name)
	if err != nil {
		return nil, nil, err
	}
	return e.res.record(nt, access, q.Version), e.res.lend(nt), nil
}

// openableName is the name entry of q's name in c's session, naming an
// object of q's kind (what, in errors), and the access q may be granted
// through it: the checks every open by name makes.
func (b *Broker) openableName(c *brokerConn, q request, what string) (e nameEntry, access, mask bridge.Access, err error) {
	if _, known := q.Access.Grants(); !known {
		return e, 0, 0, perr(CodeInvalid, "access %#x has bits no shared resource right has", uint32(q.Access))
	}
	if err := ValidName(q.Name); err != nil {
		return e, 0, 0, err
	}
	name, err := resolveName(q.Name, c.session)
	if err != nil {
		return e, 0, 0, err
	}
	e, ok := b.names[name.key]
	if !ok {
		return e, 0, 0, perr(CodeNotFound, "no %s named %q", what, q.Name)
	}
	if err := wrongType(q, e.res); err != nil {
		return e, 0, 0, withDetail(err, fmt.Sprintf("%q: ", q.Name))
	}
	// As on Windows, where the named object's security (by default, all
	// rights to its owner's processes) decides and not the access the
	// sharer's own handle has, a name grants every right to the peers the
	// broker admits: Wine's win32u opens names with GENERIC_ALL.
	if access, mask, err = grant(q.Access, bridge.AccessReadWrite); err != nil {
		return e, 0, 0, withDetail(err, fmt.Sprintf("%q: ", q.Name))
	}
	return e, access, mask, nil
}

// closeHandle releases one reference. When it is the handle's last on c,
// a wait for the keyed mutex through it is answered NOT_FOUND and a hold
// of the keyed mutex through it ends as abandonment.
func (b *Broker) closeHandle(c *brokerConn, h bridge.Handle, late *[]lateReply) error {
	res, _, err := b.lookup(c, h, false)
	if err != nil {
		return err
	}
	last := true
	if h.IsNT() {
		b.dropName(c.nt[h].name)
		delete(c.nt, h)
		res.nts--
	} else if c.kmt[res]--; c.kmt[res] == 0 {
		delete(c.kmt, res)
	} else {
		last = false
	}
	// Most closes find the mutex free and nothing waiting: they need
	// not format why they would leave it (a tenth of a CLOSE's time under
	// the broker's lock, the load test's profile showed).
	home := res.mutexHome()
	waiting := len(home.mutex.waiters) > 0 || res.fence != nil && len(res.fence.waiters) > 0
	if last && (home.mutex.held || waiting) {
		o := mutexOwner{c, h}
		b.leaveMutex(home, func(x mutexOwner) bool { return x == o }, fmt.Sprintf("handle %v closed", h), late)
	}
	b.release(c, res)
	return nil
}

// kmtRefs counts the references to res through its KMT handle, on every
// connection.
func (res *resource) kmtRefs() int {
	n := 0
	for c := range res.holders {
		n += c.kmt[res]
	}
	return n
}

// givenNames are res's names as they were given, for LIST.
func (res *resource) givenNames() []string {
	var out []string
	for _, n := range res.names {
		out = append(out, n.given)
	}
	return out
}

// page encodes a LIST or LIST_FENCES reply: the objects from KMT index
// cursor on that entry encodes (nil skips one), as many as fit in a
// message, and the cursor of the next page (0 for none).
func (b *Broker) page(cursor uint32, entry func(*resource) []byte) []byte {
	p := make([]byte, listReplyFixed, 4096)
	count, next := uint32(0), uint32(0)
	// Entries go in index order, which a cursor can resume; sorting the
	// live indices per page keeps create and free O(1).
	indices := slices.Sorted(maps.Keys(b.byIndex))
	from, _ := slices.BinarySearch(indices, cursor)
	for _, index := range indices[from:] {
		e := entry(b.byIndex[index])
		if e == nil {
			continue
		}
		if headerSize+len(p)+len(e) > maxMessageSize {
			next = index
			break
		}
		p = append(p, e...)
		count++
	}
	le.PutUint32(p[0:], next)
	le.PutUint32(p[4:], count)
	return p
}

// list encodes a page of resources from KMT index cursor on, with their
// sync sections when flags asks for them.
func (b *Broker) list(cursor, flags uint32, v uint16) []byte {
	return b.page(cursor, func(res *resource) []byte {
		if res.fence != nil || res.km != nil {
			return nil // LIST_FENCES lists fences and keyed-mutex objects
		}
		e := listEntry{
			KMT: res.kmt, CreatorPID: res.creatorPID, Refs: uint32(res.refs), DataLen: uint32(len(res.data)),
			CreatorActive: res.creator != nil && !res.creator.dead, Alloc: res.alloc, Names: res.givenNames(),
			Version: v, ServiceAllocated: res.allocDevice != "", AllocDevice: res.allocDevice,
		}
		for hc, n := range res.holders {
			if len(e.Holders) == listMaxHolders {
				break
			}
			e.Holders = append(e.Holders, Holder{PID: hc.pid, UID: hc.uid, Conn: hc.id, Refs: n})
		}
		slices.SortFunc(e.Holders, func(x, y Holder) int { return int(x.Conn) - int(y.Conn) })
		if flags&listFlagHandles != 0 {
			e.Handles = &listHandles{NTHandles: uint32(res.nts), Transfers: uint32(res.refs - res.nts - res.kmtRefs())}
			if res.mutexHome().mutex.abandoned {
				e.Handles.MutexFlags |= listMutexAbandoned
			}
		}
		if flags&listFlagSyncState != 0 {
			m := &res.mutexHome().mutex
			s := &listSync{Kinds: res.kinds(), Waiters: uint32(len(m.waiters)), LastKey: m.lastKey, LastValue: m.lastValue}
			switch {
			case m.held:
				s.State, s.HolderPID, s.HolderConn = mutexHeld, m.owner.c.pid, m.owner.c.id
			case m.abandoned:
				s.State = mutexAbandoned
			}
			e.Sync = s
		}
		return appendListEntry(nil, e)
	})
}

// dropConn releases everything c held: a client's death, however it
// happens, must not leak resources.
// With linger, the connection is closed by lingerClose, after the
// references are released.
func (b *Broker) dropConn(c *brokerConn, linger bool) {
	if linger {
		defer lingerClose(c.uc)
	} else {
		c.uc.Close()
	}
	late, unlock := b.lock()
	defer unlock()
	c.dead = true
	n := c.refs
	touched := map[*resource]bool{}
	for _, e := range c.nt {
		touched[e.res] = true
	}
	for res := range c.kmt {
		touched[res] = true
	}
	for res := range touched {
		// A resource's fence waits are its own; its mutex's may be its
		// mutex object's.
		b.leaveMutex(res, func(o mutexOwner) bool { return o.c == c }, "connection closed", late)
		if home := res.mutexHome(); home != res {
			b.leaveMutex(home, func(o mutexOwner) bool { return o.c == c }, "connection closed", late)
		}
	}
	for h, e := range c.nt {
		b.dropName(e.name)
		delete(c.nt, h)
		e.res.nts--
		b.release(c, e.res)
	}
	for res, k := range c.kmt {
		delete(c.kmt, res)
		for range k {
			b.release(c, res)
		}
	}
	delete(b.conns, c)
	c.log.Info("client disconnected", "released", n)
}

// Live returns the number of live resources.
func (b *Broker) Live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// Shutdown stops the broker: it closes the listeners and every
// connection, which frees every resource, and waits for the connection
// goroutines until ctx ends. Clients see their connection end. Shutdown may
// be called more than once.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.initLocked()
	if !b.closed {
		close(b.done)
	}
	b.closed = true
	for l := range b.listeners {
		l.Close()
		delete(b.listeners, l)
	}
	for c := range b.conns {
		c.uc.Close()
	}
	// Transfers hold references no connection does.
	for _, t := range b.transfers {
		b.dropTransfer(t)
	}
	dead := b.graveyard
	b.graveyard = nil
	b.mu.Unlock()
	for _, o := range dead {
		o.Close()
	}
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		// Every resource is freed with the connections: nothing is left
		// on the helper devices.
		b.devices.closeAll()
		b.logger().Info("broker stopped")
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
