// Package mxhttp is the HTTP plumbing shared by Warbler's APIs: Matrix JSON
// responses and errors, request body limits and JSON decoding, CORS, panic
// recovery, request logging and metrics, and the M_UNRECOGNIZED answers for
// unknown endpoints and methods.
//
// It must not contain endpoint logic or touch storage: handlers live in
// clientapi, federation and the other API packages.
package mxhttp
