package clientapi

import (
	"context"
	"github.com/warbler-im/warbler/internal/lru"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Store is what the client API needs from storage so far.
type Store interface {
	storage.UserStore
	storage.DeviceStore
	storage.TokenStore
	storage.AccountStore
	storage.RoomStore
	storage.RelationStore
	storage.FilterStore
	storage.AliasStore
	storage.SearchStore
	storage.E2EEStore
	storage.UserDataStore
	storage.DirectoryStore
	storage.PushStore
	storage.RoomSummaryStore
	storage.ReportStore
	storage.OpenIDStore
	storage.ModerationStore
	storage.LoginTokenStore
}

// API holds the client-server endpoints' dependencies. Set the exported
// fields, then call Mount once.
type API struct {
	ServerName string
	Store      Store
	// Rooms is the roomserver: every room read and write goes through it.
	Rooms *roomserver.RoomServer
	// ClientBaseURL is served in /.well-known/matrix/client; empty answers 404.
	ClientBaseURL string
	Now           func() time.Time

	Registration RegistrationOptions
	// AccessTokenLifetime is how long access tokens live for clients that
	// asked for a refresh token; 0 means defaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// JWT verifies org.matrix.login.jwt logins; nil turns that login off.
	JWT *JWTVerifier
	// SearchAllUsers lets /user_directory/search find every local user.
	SearchAllUsers bool
	// Limits throttle registration, login, sending and joins; nil
	// limiters do not limit.
	Limits Limits
	// Backfill fetches history from other servers for /messages; nil
	// pages only through what is stored.
	Backfill Backfiller
	// Exclusive reports whether a user ID lies in an application service's
	// exclusive namespace (M_EXCLUSIVE); nil until appservices exist.
	Exclusive func(userID string) bool
	// RemoteE2EE reaches other servers' users for keys and to-device
	// messages (federation, cmd/warbler/e2ee.go); nil keeps them local.
	RemoteE2EE RemoteE2EE
	// RemoteRooms reaches rooms through other servers; nil until
	// federation is wired in, which keeps every room local.
	RemoteRooms RemoteRooms
	// RemoteDirectory reaches other servers' spaces, room summaries and
	// public room directories (hierarchy.go); nil keeps discovery local.
	RemoteDirectory RemoteDirectory
	// OnEphemeral receives the typing, receipt and presence EDUs of local
	// users for federation to send; nil sends none (userdata.go).
	OnEphemeral func(ctx context.Context, edu EphemeralEDU)
	// OnDeviceListChange receives local users' device and cross-signing
	// key changes for federation to announce; nil announces none.
	OnDeviceListChange func(ctx context.Context, c DeviceListChange)
	// PresenceDisabled turns presence off (config presence.enabled: false):
	// nothing is stored or sent, and /presence answers as if all were offline.
	PresenceDisabled bool
	// TURN configures /voip/turnServer (misc.go).
	TURN TURNOptions
	// LoginTokens configures /login/get_token (logintoken.go).
	LoginTokens LoginTokenOptions
	// Support is served at /.well-known/matrix/support (support.go); empty
	// answers 404.
	Support SupportInfo
	// Pushes delivers notifications to the push gateways of users' http
	// pushers (push_deliver.go); nil delivers none.
	Pushes PushSender
	// AllowHTTPGateways accepts pushers whose data.url is plain http (the
	// spec wants https); for test setups only.
	AllowHTTPGateways bool

	initOnce  sync.Once
	uia       *uiaStore
	nonces    *nonceStore
	seen      *seenThrottle
	confirmed *hashSet
	nonGuests *lru.Cache[string, struct{}] // users known not to be guests (auth.go)
	txnMemory *txnStore                    // (user, device, txnId) → event, for idempotent sends
	// syncs serves /sync; the streams' writers tell it of changes through
	// syncs.notify. nil when the API has no roomserver.
	syncs *syncServer
	// roomMembers caches rooms' member summaries and joined members
	// (sync_summary_cache.go); nil without a roomserver.
	roomMembers *summaryCache
	// userData holds the per-user and ephemeral streams (userdata.go).
	userData *userData
	// pushRuleStore keeps users' push rules (as m.push_rules account data).
	pushRuleStore pushRuleStorage
	pushState

	profileRuns profilePropagator // member events for profile changes (profile_propagate.go)
	misc        miscState         // rate limit of reports and OpenID tokens (misc.go)
	// anonymousLookups limits the remote room summaries asked for
	// without an access token (room_summary.go).
	anonymousLookups *ratelimit.Limiter
	loginTokens      loginTokenState // rate limit of login tokens (logintoken.go)
}

// RegistrationOptions says who may create accounts.
type RegistrationOptions struct {
	Enabled      bool   // open registration of user accounts
	RequireToken bool   // ... behind m.login.registration_token
	GuestAccess  bool   // kind=guest registration
	SharedSecret string // /_synapse/admin/v1/register; "" turns it off
}

// Limits are the rate limiters of the account, sending and join endpoints.
type Limits struct {
	Login        *ratelimit.Limiter // per client address, on /login
	LoginAccount *ratelimit.Limiter // per account: logins and password re-auth
	Register     *ratelimit.Limiter // per client address, on registration
	Send         *ratelimit.Limiter // per user: messages, state events, redactions
	Join         *ratelimit.Limiter // per user, on joins
}

const defaultAccessTokenLifetime = 5 * time.Minute

// specVersions lists the spec versions whose client-server API Warbler
// implements: every endpoint of v1.1 up to v1.19 is served (the sytest
// TestEverySpecEndpointIsServed calls each one), the optional features a
// server may leave out (URL previews unless configured, OAuth 2.0, single
// sign-on, acting as a policy server) answer as the spec has such a server
// do, and identity-server features are refused as by a server without one.
// Clients trust this list to decide what they may call, so a version is
// listed only when what it requires holds. The r0 versions are not listed:
// their identity-server flows differ and nothing here targets them.
var specVersions = []string{
	"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10",
	"v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19",
}

// Mount prepares the API's in-memory state and registers the client-server
// endpoints on r.
func (a *API) Mount(r chi.Router) {
	a.initOnce.Do(a.init)
	r.Get("/_matrix/client/versions", mxhttp.JSON(versions))
	r.Get("/.well-known/matrix/client", mxhttp.JSON(a.wellKnownClient))
	r.Get("/_synapse/admin/v1/register", a.handle(a.adminNonce))
	r.Post("/_synapse/admin/v1/register", a.handle(a.adminRegister))
	r.With(a.limitByAddress(a.Limits.Register)).
		Get("/_matrix/client/v1/register/m.login.registration_token/validity", a.handle(a.registrationTokenValidity))
	r.Get("/.well-known/matrix/support", mxhttp.JSON(a.wellKnownSupport))
	r.Route("/_matrix/client/{apiVersion:v3|r0}", a.mountV3)
	r.Group(func(r chi.Router) {
		r.Use(a.RequireAuth, a.noGuests)
		a.mountModeration(r) // /_matrix/client/v1/admin (moderation.go)
		r.Post("/_matrix/client/v1/login/get_token", a.handle(a.getLoginToken))
		r.Get("/_matrix/client/v1/mutual_rooms", a.handle(a.mutualRooms))
	})
	a.mountRelations(r) // /_matrix/client/v1 relations and threads (relations.go)
	a.mountTimestamp(r)
	a.mountAppserviceEndpoints(r)
	a.mountDiscovery(r) // /_matrix/client/v1 hierarchy and room_summary (hierarchy.go)
}

func (a *API) mountV3(r chi.Router) {
	r.Get("/login", a.handle(a.loginFlows))
	r.With(a.limitByAddress(a.Limits.Login)).Post("/login", a.handle(a.login))
	r.Group(func(r chi.Router) {
		r.Use(a.limitByAddress(a.Limits.Register))
		r.Post("/register", a.handle(a.register))
		r.Get("/register/available", a.handle(a.registerAvailable))
	})
	a.mountThreePIDRequestTokens(r) // threepid.go
	r.Post("/refresh", a.handle(a.refresh))
	r.Get("/profile/{userId}", a.handle(a.getProfile))
	// Resolving an alias needs no access token (spec: "directory" module).
	r.Get("/directory/room/{roomAlias}", a.handle(a.getAlias))
	r.Get("/profile/{userId}/{keyName}", a.handle(a.getProfileField))
	a.mountPublicDirectory(r)
	r.Group(func(r chi.Router) {
		// The spec lets these run without an access token: the password
		// stage of user-interactive auth then names the account.
		r.Use(a.optionalAuth, a.noGuests)
		r.Post("/account/password", a.handle(a.changePassword))
		r.Post("/account/deactivate", a.handle(a.deactivate))
	})
	r.Group(func(r chi.Router) {
		r.Use(a.requireAuthLocked)
		r.Post("/logout", a.handle(a.logout))
		r.Post("/logout/all", a.handle(a.logoutAll))
	})
	r.Group(func(r chi.Router) {
		r.Use(a.RequireAuth)
		a.mountAuthenticated(r)
	})
}

// mountAuthenticated registers the endpoints that need an access token.
// Guests reach only those the guest access module allows them.
func (a *API) mountAuthenticated(r chi.Router) {
	r.Get("/account/whoami", a.handle(a.whoami))
	r.Get("/devices", a.handle(a.listDevices))
	r.Get("/devices/{deviceId}", a.handle(a.getDevice))
	r.Put("/devices/{deviceId}", a.handle(a.updateDevice))
	r.With(a.notSuspended).Put("/profile/{userId}/{keyName}", a.handle(a.setProfileField))
	r.With(a.notSuspended).Delete("/profile/{userId}/{keyName}", a.handle(a.deleteProfileField))
	a.mountSync(r)
	a.mountKeys(r)
	a.mountUserData(r)
	a.mountMisc(r) // 3pid, voip, openid, reports (misc.go)
	r.Group(func(r chi.Router) {
		r.Use(a.noGuests)
		a.mountRooms(r)
		a.mountPush(r)
		r.Get("/capabilities", a.handle(a.capabilities))
		a.mountAdminLookups(r)
		r.Delete("/devices/{deviceId}", a.handle(a.deleteDevice))
		r.Post("/delete_devices", a.handle(a.deleteDevices))
		r.Post("/search", a.handle(a.search))
	})
}

// init creates the in-memory state: user-interactive auth sessions,
// shared-secret nonces and the caches that spare the database writes. It
// runs once, from Mount or from the first RequireAuth (other packages wrap
// their routes with RequireAuth, possibly before Mount).
func (a *API) init() {
	a.uia = newUIAStore(a.now, a.releaseUIASession)
	a.nonces = newNonceStore(a.now)
	a.seen = newSeenThrottle()
	a.confirmed = newHashSet(maxConfirmedTokens)
	a.nonGuests = lru.New[string, struct{}](maxKnownNonGuests)
	a.txnMemory = newTxnStore()
	a.anonymousLookups = a.newAnonymousLookups()
}

func versions(*http.Request) (any, error) {
	return map[string]any{"versions": specVersions, "unstable_features": map[string]bool{}}, nil
}

func (a *API) wellKnownClient(*http.Request) (any, error) {
	if a.ClientBaseURL == "" {
		return nil, mxcore.NotFound("No client discovery information is configured")
	}
	return map[string]any{"m.homeserver": map[string]string{"base_url": a.ClientBaseURL}}, nil
}

func (a *API) accessTokenLifetime() time.Duration {
	if a.AccessTokenLifetime > 0 {
		return a.AccessTokenLifetime
	}
	return defaultAccessTokenLifetime
}
