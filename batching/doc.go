// Package batching runs one call for a group of identical requests and
// streams the call's result to every member of the group.
//
// A group is the set of requests that share one call. Requests are
// identified by a comparable key; a key has at most one group open for
// joining at a time. When a group is dispatched depends on [Config]:
//
//   - Window > 0: the first request for a key opens a group, later requests
//     with that key join it, and the group is dispatched when Window has
//     passed since it opened or when it has MaxSize members, whichever comes
//     first. Every member therefore sees the upstream's state at a moment
//     after its own request arrived.
//   - Window == 0: the first request is dispatched at once. Requests that
//     arrive while a call for the key is in flight gather in the next group,
//     which is dispatched as soon as the call in flight has its result
//     headers (the function returned), or when it reaches MaxSize.
//   - JoinInFlight: requests may also join a call that has been dispatched
//     but has not returned yet. This saves calls but a member may see a state
//     from before its request arrived.
//   - Disabled: every request runs its own call.
//
// The call's body is read once and fanned out: members read from a shared
// buffer of immutable chunks, so memory stays bounded by Config.BufferSize
// whatever the body size and the number of members. The call runs under a
// context owned by the group: a member that leaves (cancels its context or
// closes its body) does not cancel the call for the others, and the call is
// cancelled when the last member has left. A call's error, or an error
// while reading its body, reaches every member of that group and is never
// kept for a later group.
//
// The package knows nothing of HTTP or S3.
package batching
