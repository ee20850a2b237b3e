// Package broker is glbridge's service and its client: the broker (glshare
// serve) names shared resources between processes with KMT global handles,
// NT handles and names, keeps each resource's allocation record and private
// runtime data, passes dups of its memory and semaphore fds over a unix
// socket (SOCK_SEQPACKET with SCM_RIGHTS), keeps each resource's keyed
// mutex, and frees what a dead client held.
//
// Broker serves connections (Serve, Shutdown); Listen and
// ActivationListener make its socket; Client speaks the protocol. The wire
// format is docs/protocol.md, complete enough for a client in any
// language; the codecs stay unexported. Errors the broker replies with are
// Errors carrying a Code; the codes that mean one of bridge's error values
// match it under errors.Is.
package broker
