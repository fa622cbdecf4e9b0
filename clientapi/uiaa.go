package clientapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/warbler-im/warbler/mxcore"
)

// User-interactive authentication (UIA): an endpoint offers flows of
// stages; the client completes the stages of one flow in order, one request
// each, carrying the session ID the first 401 gave it. Sessions live in
// memory: they are short-lived, and losing them on a restart only makes a
// client start its current flow again. A deployment of several processes
// behind one name needs sticky routing for UIA until they move to storage.
const (
	stageDummy             = "m.login.dummy"
	stagePassword          = "m.login.password"
	stageRegistrationToken = "m.login.registration_token"

	// uiaSessionLifetime is how long a client has to finish a flow, from the
	// first request; long enough to fetch a registration token from a mail.
	uiaSessionLifetime = 30 * time.Minute
	// maxUIASessions bounds memory; past it the oldest sessions are dropped.
	maxUIASessions = 10_000
)

type uiaFlow struct {
	Stages []string `json:"stages"`
}

// uiaChallenge is the 401 body that asks for (more) authentication. It is
// returned as an error; handle writes it. Errcode and Message are set when
// an attempt at a stage failed and the client may try again.
type uiaChallenge struct {
	Errcode   string         `json:"errcode,omitempty"`
	Message   string         `json:"error,omitempty"`
	Completed []string       `json:"completed,omitempty"`
	Flows     []uiaFlow      `json:"flows"`
	Params    map[string]any `json:"params"`
	Session   string         `json:"session"`
}

func (c *uiaChallenge) Error() string { return "user-interactive authentication required" }

// uiaSession is one run through a flow.
type uiaSession struct {
	id string
	// operation names what the session may authorise (the endpoint, the
	// account and the target), so stages passed for one request cannot be
	// spent on another.
	operation string
	created   time.Time
	completed []string
	// userID is the account the password stage proved, if any.
	userID string
	// regToken is the registration token whose use this session reserved.
	regToken string
}

// uiaRequest describes what an endpoint asks of UIA for one call.
type uiaRequest struct {
	operation string
	flows     []uiaFlow
	auth      json.RawMessage // the request's "auth" value, if any
	// accountID is the authenticated caller; "" on registration and on
	// unauthenticated account requests.
	accountID string
}

// authDict is the part of "auth" that every stage shares.
type authDict struct {
	Type    string `json:"type"`
	Session string `json:"session"`
}

// stageError marks a failed attempt at a stage: the client gets the
// challenge again, with this errcode and message, and may retry.
type stageError struct{ err *mxcore.Error }

func (e stageError) Error() string { return e.err.Error() }

func failedStage(status int, errcode, msg string) error {
	return stageError{mxcore.NewError(status, errcode, "%s", msg)}
}

// interactiveAuth runs one request's part of UIA. It returns the session
// once a flow is complete; the caller must then call a.uia.finish. Until
// then it returns a *uiaChallenge, or another error for a bad request.
func (a *API) interactiveAuth(r *http.Request, req uiaRequest) (*uiaSession, error) {
	if isAbsent(req.auth) {
		return nil, a.uia.challenge(a.uia.start(req.operation), req.flows, nil)
	}
	var auth authDict
	if err := json.Unmarshal(req.auth, &auth); err != nil {
		return nil, mxcore.BadJSON("auth must be an object with string type and session")
	}
	sess, err := a.uia.lookup(auth.Session, req.operation)
	if err != nil {
		return nil, err
	}
	// A completed stage is not run again: the client learns where it stands.
	if auth.Type != "" && !slices.Contains(a.uia.completedOf(sess), auth.Type) {
		if err := a.attemptStage(r, req, sess, auth.Type); err != nil {
			return nil, a.uia.afterFailure(sess, req.flows, err)
		}
	}
	if !flowComplete(req.flows, a.uia.completedOf(sess)) {
		return nil, a.uia.challenge(sess, req.flows, nil)
	}
	if !a.uia.claim(sess) {
		return nil, mxcore.Unknown("This authentication session is already being used by another request")
	}
	return sess, nil
}

// attemptStage checks one submitted stage and records it as completed.
func (a *API) attemptStage(r *http.Request, req uiaRequest, sess *uiaSession, stage string) error {
	if !nextStageAllowed(req.flows, a.uia.completedOf(sess), stage) {
		return failedStage(http.StatusUnauthorized, mxcore.ErrForbidden, "Stage "+stage+" is not the next stage of any offered flow")
	}
	var err error
	switch stage {
	case stageDummy:
	case stagePassword:
		err = a.passwordStage(r, req, sess)
	case stageRegistrationToken:
		err = a.registrationTokenStage(r, req, sess)
	default:
		err = failedStage(http.StatusUnauthorized, mxcore.ErrForbidden, "Unsupported stage "+stage)
	}
	if err != nil {
		return err
	}
	a.uia.markCompleted(sess, stage)
	return nil
}

// isAbsent reports whether a JSON value was left out or null.
func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// nextStageAllowed reports whether some flow starts with the completed
// stages, in order, followed by stage: flows must be followed in order.
func nextStageAllowed(flows []uiaFlow, completed []string, stage string) bool {
	for _, f := range flows {
		n := len(completed)
		if len(f.Stages) > n && slices.Equal(f.Stages[:n], completed) && f.Stages[n] == stage {
			return true
		}
	}
	return false
}

// flowComplete reports whether the completed stages are exactly a flow.
func flowComplete(flows []uiaFlow, completed []string) bool {
	for _, f := range flows {
		if slices.Equal(f.Stages, completed) {
			return true
		}
	}
	return false
}

// uiaStore holds the sessions in progress. Its mutex also guards the
// fields of every session, which concurrent requests may share.
type uiaStore struct {
	mu        sync.Mutex
	sessions  map[string]*uiaSession
	lastSweep time.Time
	now       func() time.Time
	// release gives back what a session held (a reserved registration
	// token use) when it ends without being used. It runs outside mu.
	release func(*uiaSession)
}

func newUIAStore(now func() time.Time, release func(*uiaSession)) *uiaStore {
	return &uiaStore{sessions: make(map[string]*uiaSession), now: now, release: release}
}

// start opens a new session for operation. Expired sessions are swept
// now and then on the way, so their reserved token uses come back.
func (s *uiaStore) start(operation string) *uiaSession {
	now := s.now()
	sess := &uiaSession{id: newSessionID(), operation: operation, created: now}
	var dropped []*uiaSession
	s.mu.Lock()
	if len(s.sessions) >= maxUIASessions || now.Sub(s.lastSweep) > time.Minute {
		s.lastSweep = now
		dropped = s.dropExpiredLocked()
	}
	if len(s.sessions) >= maxUIASessions {
		dropped = append(dropped, s.dropOldestLocked())
	}
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	s.releaseAll(dropped)
	return sess
}

// lookup finds the session a request names, or starts one when it names
// none (a client may submit its first stage straight away).
func (s *uiaStore) lookup(id, operation string) (*uiaSession, error) {
	if id == "" {
		return s.start(operation), nil
	}
	s.mu.Lock()
	sess, ok := s.sessions[id]
	expired := ok && s.now().Sub(sess.created) > uiaSessionLifetime
	if expired {
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	if expired {
		s.releaseAll([]*uiaSession{sess})
	}
	if !ok || expired {
		return nil, mxcore.Unknown("Unknown or expired user-interactive authentication session")
	}
	if sess.operation != operation {
		return nil, mxcore.Forbidden("This authentication session was started for a different request")
	}
	return sess, nil
}

// markCompleted records a passed stage, unless a concurrent request
// already did.
func (s *uiaStore) markCompleted(sess *uiaSession, stage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(sess.completed, stage) {
		sess.completed = append(sess.completed, stage)
	}
}

func (s *uiaStore) completedOf(sess *uiaSession) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(sess.completed)
}

// setUser records the account the password stage proved.
func (s *uiaStore) setUser(sess *uiaSession, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.userID = userID
}

// setRegToken records the registration token whose use sess reserved. It
// reports false if the session already holds one (a concurrent attempt got
// there first), and the caller must give its own reservation back.
func (s *uiaStore) setRegToken(sess *uiaSession, token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.regToken != "" {
		return false
	}
	sess.regToken = token
	return true
}

// challenge builds the 401 for sess; failure, if set, is why the last
// attempt failed.
func (s *uiaStore) challenge(sess *uiaSession, flows []uiaFlow, failure *mxcore.Error) *uiaChallenge {
	c := &uiaChallenge{Completed: s.completedOf(sess), Flows: flows, Params: map[string]any{}, Session: sess.id}
	if failure != nil {
		c.Errcode, c.Message = failure.ErrCode, failure.Message
	}
	return c
}

// afterFailure turns a failed stage into a challenge the client may answer
// again; other errors (rate limits, storage) pass through.
func (s *uiaStore) afterFailure(sess *uiaSession, flows []uiaFlow, err error) error {
	var failed stageError
	if errors.As(err, &failed) {
		return s.challenge(sess, flows, failed.err)
	}
	return err
}

// claim takes a completed session out of the store, so two concurrent
// requests cannot both spend it: only the one that removes it may go on.
func (s *uiaStore) claim(sess *uiaSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] != sess {
		return false
	}
	delete(s.sessions, sess.id)
	return true
}

// finish ends a claimed session. If the operation failed, the session goes
// back, so the client can fix its request and retry without redoing stages.
func (s *uiaStore) finish(sess *uiaSession, succeeded bool) {
	if succeeded {
		return
	}
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
}

func (s *uiaStore) dropExpiredLocked() []*uiaSession {
	var dropped []*uiaSession
	now := s.now()
	for id, sess := range s.sessions {
		if now.Sub(sess.created) > uiaSessionLifetime {
			delete(s.sessions, id)
			dropped = append(dropped, sess)
		}
	}
	return dropped
}

func (s *uiaStore) dropOldestLocked() *uiaSession {
	var oldest *uiaSession
	for _, sess := range s.sessions {
		if oldest == nil || sess.created.Before(oldest.created) {
			oldest = sess
		}
	}
	delete(s.sessions, oldest.id)
	return oldest
}

func (s *uiaStore) releaseAll(sessions []*uiaSession) {
	for _, sess := range sessions {
		if s.release != nil {
			s.release(sess)
		}
	}
}

func (s *uiaStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// newSessionID returns 128 random bits, URL-safe.
func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
