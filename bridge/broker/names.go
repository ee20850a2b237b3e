package broker

import (
	"strconv"
	"strings"
	"unicode"
)

// This file is the broker's object namespace (docs/protocol.md, "Names"):
// names resolve, as Windows' object manager resolves them, to a path under
// \BaseNamedObjects (the global namespace) or a session's
// \Sessions\N\BaseNamedObjects, and are compared case-insensitively.

// defaultSession is the session a connection is in until SET_SESSION:
// Wine runs every process of a prefix in session 1, and what Wine's tests
// expect (a name X made by CreateSharedHandle is
// \Sessions\1\BaseNamedObjects\X) follows.
const defaultSession = 1

// msgSetSession (version 2) moves a connection that holds nothing into
// another session, whose namespace its Local\ and plain names are in: a
// broker that serves several Wine prefixes (or a prefix and a native
// process standing for another logon) keeps their local names apart, as
// Windows keeps sessions', while Global\ names meet.
const msgSetSession msgType = 27

// MaxSession is the largest session SET_SESSION accepts (Windows' session
// IDs are small numbers; the cap keeps paths short).
const MaxSession = 0xffff

func decodeSessionRequest(q *request, r *rd) (bool, error) {
	if q.Type != msgSetSession {
		return false, nil
	}
	if q.Version < protocolVersion {
		return true, perr(CodeUnknownType, "%v is version %d's; the request is version %d", q.Type, protocolVersion, q.Version)
	}
	q.Session = r.u32()
	if res := r.u32(); !r.bad && res != 0 {
		return true, perr(CodeBadMessage, "reserved field is %#x, must be 0", res)
	}
	if !r.bad && q.Session > MaxSession {
		return true, perr(CodeInvalid, "session %d: at most %d", q.Session, MaxSession)
	}
	return true, nil
}

func appendSessionRequest(p []byte, q request) ([]byte, bool) {
	if q.Type != msgSetSession {
		return p, false
	}
	p = le.AppendUint32(p, q.Session)
	return le.AppendUint32(p, 0), true
}

// setSession is SET_SESSION. A connection that holds references, or has
// requests waiting, resolved names in its old session, which would change
// meaning under it: it is refused.
func (b *Broker) setSession(c *brokerConn, q request) error {
	if c.refs != 0 || c.fenceWaits != 0 {
		return perr(CodeInvalid, "this connection holds %d references: set the session before anything else", c.refs)
	}
	c.session = q.Session
	c.log.Debug("session set", "session", q.Session)
	return nil
}

// SetSession moves this connection into session, whose namespace
// (\Sessions\N\BaseNamedObjects) its Local\ and plain names are then in;
// Global\ names are every session's. It must come before the connection
// holds anything. Connections start in session 1, where Wine runs a
// prefix; a reconnecting client sets it again before it restores.
func (c *Client) SetSession(session uint32) error {
	if session > MaxSession {
		return &Error{Op: "set-session", Code: CodeInvalid, Detail: "session " + strconv.FormatUint(uint64(session), 10) + " is above MaxSession"}
	}
	_, err := c.call("set-session", request{header: header{Type: msgSetSession}, Session: session}, nil, 0)
	return err
}

// Namespace prefixes; they match ASCII case-insensitively.
const (
	globalDir   = `\BaseNamedObjects\`
	sessionsDir = `\Sessions\`
	globalWin32 = `Global\`
	localWin32  = `Local\`
	sessWin32   = `Session\`
)

// objectName is a name resolved into the namespace.
type objectName struct {
	// given is the name as the client sent it, which LIST shows.
	given string
	// path is its full path, which QUERY_OBJECT reports: the namespace's
	// directory, then the leaf as given.
	path string
	// key is path case-folded: two names are one when their keys are.
	key string
}

// resolveName resolves name, which ValidName accepted, for a connection
// in session: `\BaseNamedObjects\X` and `Global\X` are X in the global
// namespace; `\Sessions\N\BaseNamedObjects\X` and `Session\N\X` X in
// session N's (session 0's is the global one, as on Windows); `Local\X`
// and a plain X are X in the connection's session. The leaf X must be
// non-empty and hold no backslash (the namespace has no directories of
// its own); any other path beginning with a backslash names no
// namespace. Both are BAD_NAME.
func resolveName(name string, session uint32) (objectName, error) {
	leaf, sess, global := name, session, false
	cut := func(prefix string) bool {
		if len(leaf) >= len(prefix) && strings.EqualFold(leaf[:len(prefix)], prefix) {
			leaf = leaf[len(prefix):]
			return true
		}
		return false
	}
	number := func(end string) bool {
		i := strings.IndexByte(leaf, '\\')
		n, err := strconv.ParseUint(leaf[:max(i, 0)], 10, 32)
		if i <= 0 || err != nil || leaf[0] == '+' || len(leaf[:i]) > 1 && leaf[0] == '0' {
			return false
		}
		leaf, sess = leaf[i+1:], uint32(n)
		return end == "" || cut(end)
	}
	switch {
	case cut(globalDir), cut(globalWin32):
		global = true
	case cut(sessionsDir):
		if !number(globalDir[1:]) {
			return objectName{}, perr(CodeBadName, "%q: not \\Sessions\\N\\BaseNamedObjects\\NAME", name)
		}
	case cut(sessWin32):
		if !number("") {
			return objectName{}, perr(CodeBadName, "%q: not Session\\N\\NAME", name)
		}
	case cut(localWin32):
	case strings.HasPrefix(leaf, `\`):
		return objectName{}, perr(CodeBadName, "%q: a path outside \\BaseNamedObjects and \\Sessions\\N\\BaseNamedObjects", name)
	}
	if leaf == "" || strings.ContainsRune(leaf, '\\') {
		return objectName{}, perr(CodeBadName, "%q: the object name %q is empty or holds a backslash", name, leaf)
	}
	var path string
	if global || sess == 0 {
		path = globalDir + leaf
	} else {
		path = sessionsDir + strconv.FormatUint(uint64(sess), 10) + globalDir + leaf
	}
	return objectName{given: name, path: path, key: foldCase(path)}, nil
}

// foldCase maps every character of s to one representative of its
// Unicode simple case folding orbit (the smallest), so that strings equal
// under simple case folding (strings.EqualFold) have one key.
func foldCase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
