package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/push"
	"github.com/warbler-im/warbler/storage"
)

// pushRuleStorage keeps each user's rules as the content of their global
// m.push_rules account data event, which is how clients receive them in
// /sync (push module, "Push Rules: Events").
type pushRuleStorage interface {
	// loadPushRules returns the stored content, nil if none.
	loadPushRules(ctx context.Context, userID string) ([]byte, error)
	savePushRules(ctx context.Context, userID string, content []byte) error
}

// accountDataPushRules keeps push rules as the global m.push_rules
// account data event: an edit then reaches the user's clients through the
// account data stream of /sync.
type accountDataPushRules struct{ a *API }

func (s accountDataPushRules) loadPushRules(ctx context.Context, userID string) ([]byte, error) {
	content, err := s.a.Store.AccountData(ctx, userID, "", pushRulesType)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return content, err
}

func (s accountDataPushRules) savePushRules(ctx context.Context, userID string, content []byte) error {
	return s.a.setAccountData(ctx, userID, "", pushRulesType, content)
}

// pushRulesType is the account data type of a user's push rules.
const pushRulesType = "m.push_rules"

// pushRuleCache holds users' effective rulesets: they are read for every
// event of every room a user is in, and change rarely.
type pushRuleCache struct {
	store pushRuleStorage
	cache *lru.Cache[string, *push.Ruleset]
	locks [64]sync.Mutex // serialise each user's read-modify-write edits
}

const pushRuleCacheUsers = 20000

func newPushRuleCache(store pushRuleStorage) *pushRuleCache {
	return &pushRuleCache{store: store, cache: lru.New[string, *push.Ruleset](pushRuleCacheUsers)}
}

// get returns userID's effective rules. The ruleset returned is shared:
// callers must not modify it.
func (c *pushRuleCache) get(ctx context.Context, userID string) (*push.Ruleset, error) {
	if rs, ok := c.cache.Get(userID); ok {
		return rs, nil
	}
	// Loaded under the user's edit lock, so an edit racing this load
	// cannot be overwritten in the cache by the older rules.
	lock := &c.locks[lockIndex(userID, len(c.locks))]
	lock.Lock()
	defer lock.Unlock()
	if rs, ok := c.cache.Get(userID); ok {
		return rs, nil
	}
	stored, err := c.store.loadPushRules(ctx, userID)
	if err != nil {
		return nil, err
	}
	rs := push.Merge(stored, userID)
	c.cache.Put(userID, &rs)
	return &rs, nil
}

// edit applies fn to a copy of userID's rules and stores the result.
func (c *pushRuleCache) edit(ctx context.Context, userID string, fn func(rs *push.Ruleset) error) error {
	lock := &c.locks[lockIndex(userID, len(c.locks))]
	lock.Lock()
	defer lock.Unlock()
	stored, err := c.store.loadPushRules(ctx, userID)
	if err != nil {
		return err
	}
	rs := push.Merge(stored, userID)
	if err := fn(&rs); err != nil {
		return err
	}
	content, err := json.Marshal(push.Rules{Global: rs})
	if err != nil {
		return err
	}
	if err := c.store.savePushRules(ctx, userID, content); err != nil {
		return err
	}
	c.cache.Put(userID, &rs)
	return nil
}

func lockIndex(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % uint32(n))
}

// mountPushRules registers /pushrules (pushrules.yaml).
func (a *API) mountPushRules(r chi.Router) {
	r.Get("/pushrules/", a.handle(a.getAllPushRules))
	r.Get("/pushrules/global/", a.handle(a.getGlobalPushRules))
	r.Route("/pushrules/global/{kind}/{ruleId}", func(r chi.Router) {
		r.Get("/", a.handle(a.getPushRule))
		r.Put("/", a.handle(a.putPushRule))
		r.Delete("/", a.handle(a.deletePushRule))
		r.Get("/enabled", a.handle(a.getPushRuleEnabled))
		r.Put("/enabled", a.handle(a.putPushRuleEnabled))
		r.Get("/actions", a.handle(a.getPushRuleActions))
		r.Put("/actions", a.handle(a.putPushRuleActions))
	})
}

func (a *API) myPushRules(r *http.Request) (*push.Ruleset, error) {
	sess, _ := SessionFrom(r.Context())
	return a.pushRules.get(r.Context(), sess.UserID)
}

func (a *API) getAllPushRules(r *http.Request) (any, error) {
	rs, err := a.myPushRules(r)
	if err != nil {
		return nil, err
	}
	return push.Rules{Global: *rs}, nil
}

func (a *API) getGlobalPushRules(r *http.Request) (any, error) {
	return a.myPushRules(r)
}

// pushRuleAt finds the rule the path names, or M_NOT_FOUND.
func (a *API) pushRuleAt(r *http.Request) (push.Rule, error) {
	kind, ruleID := chi.URLParam(r, "kind"), chi.URLParam(r, "ruleId")
	if err := checkRuleKind(kind); err != nil {
		return push.Rule{}, err
	}
	rs, err := a.myPushRules(r)
	if err != nil {
		return push.Rule{}, err
	}
	rule, _ := rs.Find(kind, ruleID)
	if rule == nil {
		return push.Rule{}, mxcore.NotFound("The push rule was not found.")
	}
	return *rule, nil
}

func checkRuleKind(kind string) error {
	var rs push.Ruleset
	if rs.List(kind) == nil {
		return mxcore.InvalidParam("kind must be one of override, underride, sender, room, content")
	}
	return nil
}

func (a *API) getPushRule(r *http.Request) (any, error) { return a.pushRuleAt(r) }

func (a *API) getPushRuleEnabled(r *http.Request) (any, error) {
	rule, err := a.pushRuleAt(r)
	return map[string]bool{"enabled": rule.Enabled}, err
}

func (a *API) getPushRuleActions(r *http.Request) (any, error) {
	rule, err := a.pushRuleAt(r)
	return map[string]any{"actions": rule.Actions}, err
}

// editPushRule runs fn on the caller's rules for the path's kind and rule.
func (a *API) editPushRule(r *http.Request, fn func(rs *push.Ruleset, kind, ruleID string) error) (any, error) {
	kind, ruleID := chi.URLParam(r, "kind"), chi.URLParam(r, "ruleId")
	if err := checkRuleKind(kind); err != nil {
		return nil, err
	}
	sess, _ := SessionFrom(r.Context())
	err := a.pushRules.edit(r.Context(), sess.UserID, func(rs *push.Ruleset) error { return fn(rs, kind, ruleID) })
	return struct{}{}, pushRuleError(err)
}

// pushRuleError maps the push package's errors to the API's.
func pushRuleError(err error) error {
	var invalid *push.InvalidError
	switch {
	case errors.Is(err, push.ErrNotFound):
		return mxcore.NotFound("The push rule was not found.")
	case errors.As(err, &invalid):
		return mxcore.Unknown(invalid.Msg)
	}
	return err
}

func (a *API) putPushRule(r *http.Request) (any, error) {
	var body push.RuleBody
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	return a.editPushRule(r, func(rs *push.Ruleset, kind, ruleID string) error {
		return rs.Put(kind, ruleID, body, q.Get("before"), q.Get("after"))
	})
}

func (a *API) deletePushRule(r *http.Request) (any, error) {
	return a.editPushRule(r, func(rs *push.Ruleset, kind, ruleID string) error { return rs.Delete(kind, ruleID) })
}

func (a *API) putPushRuleEnabled(r *http.Request) (any, error) {
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Enabled == nil {
		return nil, mxcore.MissingParam("enabled is required")
	}
	return a.editPushRule(r, func(rs *push.Ruleset, kind, ruleID string) error {
		return rs.SetEnabled(kind, ruleID, *body.Enabled)
	})
}

func (a *API) putPushRuleActions(r *http.Request) (any, error) {
	var body struct {
		Actions []json.RawMessage `json:"actions"`
	}
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Actions == nil {
		return nil, mxcore.MissingParam("actions is required")
	}
	return a.editPushRule(r, func(rs *push.Ruleset, kind, ruleID string) error {
		return rs.SetActions(kind, ruleID, body.Actions)
	})
}

// withDefaultPushRules adds the user's effective m.push_rules to the
// global account data of an initial sync when they never stored any:
// clients read their rules from there, and the server-default rules apply
// from the start.
func (a *API) withDefaultPushRules(ctx context.Context, userID string, entries []storage.AccountData) ([]storage.AccountData, error) {
	if a.pushRules == nil {
		return entries, nil
	}
	for _, e := range entries {
		if e.RoomID == "" && e.Type == pushRulesType {
			return entries, nil
		}
	}
	rs, err := a.pushRules.get(ctx, userID)
	if err != nil {
		return nil, err
	}
	content, err := json.Marshal(push.Rules{Global: *rs})
	if err != nil {
		return nil, err
	}
	return append(entries, storage.AccountData{Type: pushRulesType, Content: content}), nil
}
