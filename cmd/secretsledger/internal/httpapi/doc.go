// Package httpapi is the ledger's HTTP surface (gorilla/mux). Handlers only parse,
// call one handler, and write; errors go out as {"error": "…", "details": {"code": "…"}}
// with only the safe message of a ledgererr.Error. Only cmd/secretsledger imports it.
package httpapi
