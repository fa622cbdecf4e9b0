package clientapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// JWTOptions configure org.matrix.login.jwt.
type JWTOptions struct {
	Algorithm    string // e.g. HS256, RS256, ES256, EdDSA
	Secret       string // for the HS algorithms
	PublicKeyPEM []byte // for the others
	Issuer       string // required iss; "" accepts any
	Audience     string // required aud; "" refuses tokens that name one
	CreateUsers  bool   // create unknown users on their first login
}

// JWTVerifier checks login JWTs against one issuer's key.
type JWTVerifier struct {
	opts JWTOptions
	key  any
}

// NewJWTVerifier prepares the key for opts.Algorithm.
func NewJWTVerifier(opts JWTOptions) (*JWTVerifier, error) {
	key, err := verificationKey(opts)
	if err != nil {
		return nil, fmt.Errorf("login.jwt: %w", err)
	}
	return &JWTVerifier{opts: opts, key: key}, nil
}

func verificationKey(opts JWTOptions) (any, error) {
	switch {
	case strings.HasPrefix(opts.Algorithm, "HS"):
		if opts.Secret == "" {
			return nil, errors.New("secret is empty")
		}
		return []byte(opts.Secret), nil
	case strings.HasPrefix(opts.Algorithm, "RS"), strings.HasPrefix(opts.Algorithm, "PS"):
		return jwt.ParseRSAPublicKeyFromPEM(opts.PublicKeyPEM)
	case strings.HasPrefix(opts.Algorithm, "ES"):
		return jwt.ParseECPublicKeyFromPEM(opts.PublicKeyPEM)
	case opts.Algorithm == "EdDSA":
		return jwt.ParseEdPublicKeyFromPEM(opts.PublicKeyPEM)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", opts.Algorithm)
	}
}

// subject verifies token's signature, algorithm, time claims, issuer and
// audience, and returns its sub claim.
func (v *JWTVerifier) subject(token string, now time.Time) (string, error) {
	parserOpts := []jwt.ParserOption{
		// Pinning the algorithm stops a token signed with "none", or with
		// the public key used as an HMAC secret, from passing.
		jwt.WithValidMethods([]string{v.opts.Algorithm}),
		jwt.WithTimeFunc(func() time.Time { return now }),
	}
	if v.opts.Issuer != "" {
		parserOpts = append(parserOpts, jwt.WithIssuer(v.opts.Issuer))
	}
	if v.opts.Audience != "" {
		parserOpts = append(parserOpts, jwt.WithAudience(v.opts.Audience))
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.NewParser(parserOpts...).ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return v.key, nil
	})
	if err != nil {
		return "", err
	}
	if v.opts.Audience == "" && len(claims.Audience) > 0 {
		// A token meant for another service must not open this one.
		return "", errors.New("token has an audience but none is configured")
	}
	if claims.Subject == "" {
		return "", errors.New("token has no sub claim")
	}
	return claims.Subject, nil
}

// jwtLogin checks an org.matrix.login.jwt login and returns the user it
// names, creating the account first if so configured.
func (a *API) jwtLogin(r *http.Request, token string) (string, error) {
	if token == "" {
		return "", mxcore.Forbidden("Missing JWT in token")
	}
	sub, err := a.JWT.subject(token, a.now())
	if err != nil {
		return "", mxcore.Forbidden("Invalid JWT: " + err.Error())
	}
	userID, err := a.userIDFor(sub)
	if err != nil {
		return "", mxcore.Forbidden("The JWT's sub claim is not a valid localpart")
	}
	if err := limited(a.Limits.LoginAccount, userID); err != nil {
		return "", err
	}
	user, err := a.Store.GetUser(r.Context(), userID)
	switch {
	case errors.Is(err, storage.ErrNotFound) && a.JWT.opts.CreateUsers:
		return a.createJWTUser(r, userID)
	case errors.Is(err, storage.ErrNotFound):
		return "", mxcore.Forbidden("Unknown user")
	case err != nil:
		return "", err
	case user.Deactivated:
		return "", userDeactivated()
	}
	return userID, nil
}

// createJWTUser makes the account of a first JWT login. It has no
// password: the issuer vouches for the user each time.
func (a *API) createJWTUser(r *http.Request, userID string) (string, error) {
	_, err := a.createAccount(r.Context(), storage.User{UserID: userID, CreatedTS: a.now().UnixMilli()}, "")
	var mxErr *mxcore.Error
	if errors.As(err, &mxErr) && mxErr.ErrCode == mxcore.ErrUserInUse {
		return userID, nil // a concurrent first login created it
	}
	return userID, err
}
