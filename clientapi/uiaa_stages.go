package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// passwordFlows is what account operations ask for: the user's password,
// proving that whoever holds the access token also knows it.
var passwordFlows = []uiaFlow{{Stages: []string{stagePassword}}}

// passwordStage checks an m.login.password stage. Its auth dict has the
// shape of a password /login body.
func (a *API) passwordStage(r *http.Request, req uiaRequest, sess *uiaSession) error {
	var auth loginRequest
	if err := json.Unmarshal(req.auth, &auth); err != nil {
		return mxcore.BadJSON("auth: malformed m.login.password stage")
	}
	userID := req.accountID
	if auth.Identifier != nil || auth.User != "" {
		var err error
		if userID, err = a.loginUserID(auth); err != nil {
			return asStageFailure(err)
		}
	}
	if userID == "" {
		return failedStage(http.StatusUnauthorized, mxcore.ErrMissingParam, "The password stage must name the user")
	}
	if req.accountID != "" && userID != req.accountID {
		return failedStage(http.StatusUnauthorized, mxcore.ErrForbidden, "The password stage must be for the account making the request")
	}
	// Re-authentication guesses passwords as /login does, so it draws on
	// the same per-account budget.
	if err := limited(a.Limits.LoginAccount, userID); err != nil {
		return err
	}
	if _, err := a.checkPassword(r, userID, auth.Password); err != nil {
		return asStageFailure(err)
	}
	a.uia.setUser(sess, userID)
	return nil
}

// asStageFailure turns the client-side errors of a credential check (bad
// identifier, wrong password, deactivated account) into a failed stage the
// client may retry; server errors pass through.
func asStageFailure(err error) error {
	var mxErr *mxcore.Error
	if errors.As(err, &mxErr) && mxErr.Status >= 400 && mxErr.Status < 500 {
		return stageError{mxErr}
	}
	return err
}

// registrationTokenStage checks an m.login.registration_token stage and
// reserves one use of the token for this session.
func (a *API) registrationTokenStage(r *http.Request, req uiaRequest, sess *uiaSession) error {
	var auth struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(req.auth, &auth); err != nil {
		return mxcore.BadJSON("auth: token must be a string")
	}
	if !ValidRegistrationToken(auth.Token) {
		return failedStage(http.StatusUnauthorized, mxcore.ErrUnauthorized, "Invalid registration token")
	}
	err := a.Store.ReserveRegistrationToken(r.Context(), auth.Token, a.now().UnixMilli())
	if errors.Is(err, storage.ErrNotFound) {
		return failedStage(http.StatusUnauthorized, mxcore.ErrUnauthorized, "Invalid registration token")
	}
	if err != nil {
		return err
	}
	if !a.uia.setRegToken(sess, auth.Token) {
		a.releaseToken(auth.Token)
	}
	return nil
}

// releaseUIASession gives back what a session that ends unused had
// reserved.
func (a *API) releaseUIASession(sess *uiaSession) {
	if sess.regToken != "" {
		a.releaseToken(sess.regToken)
	}
}

// releaseToken returns a reserved registration token use. It runs when a
// session ends, possibly after its request, so it has its own deadline.
func (a *API) releaseToken(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Store.ReleaseRegistrationToken(ctx, token)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		slog.Error("releasing a reserved registration token use", "err", err)
	}
}
