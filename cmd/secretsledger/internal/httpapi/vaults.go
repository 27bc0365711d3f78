package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// VaultCommands is the write side of provider vaults.
type VaultCommands interface {
	CreateVault(ctx context.Context, req commands.Request, c commands.CreateVault) (commands.VaultResult, error)
	UpdateVault(ctx context.Context, req commands.Request, c commands.UpdateVault) (commands.VaultResult, error)
	SetDefaultVault(ctx context.Context, req commands.Request, vaultID string) (commands.VaultResult, error)
	DisableVault(ctx context.Context, req commands.Request, vaultID string) (commands.VaultResult, error)
	CheckVaultHealth(ctx context.Context, req commands.Request, vaultID string) (commands.VaultResult, error)
}

// VaultQueries is the read side of provider vaults.
type VaultQueries interface {
	List(ctx context.Context, a actor.Actor, companyID string, f queries.VaultFilter, p queries.PageRequest) (queries.Page[queries.Vault], error)
	Get(ctx context.Context, a actor.Actor, id string) (queries.Vault, error)
}

// Vaults serves the companies' provider vaults (board tokens only).
type Vaults struct {
	Commands VaultCommands
	Queries  VaultQueries
	*gate
}

func (h *Vaults) routes(r *mux.Router, g *gate) {
	h.gate = g
	board := g.board
	r.HandleFunc("/companies/{companyId}/secret-provider-configs", board(h.createVault)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secret-provider-configs", board(h.listVaults)).Methods(http.MethodGet)
	r.HandleFunc("/secret-provider-configs/{id}", board(h.getVault)).Methods(http.MethodGet)
	r.HandleFunc("/secret-provider-configs/{id}", board(h.updateVault)).Methods(http.MethodPatch)
	r.HandleFunc("/secret-provider-configs/{id}", board(h.disableVault)).Methods(http.MethodDelete)
	r.HandleFunc("/secret-provider-configs/{id}/default", board(h.setDefaultVault)).Methods(http.MethodPost)
	r.HandleFunc("/secret-provider-configs/{id}/health", board(h.checkVaultHealth)).Methods(http.MethodPost)
}

type createVaultBody struct {
	DisplayName string         `json:"displayName"`
	Provider    string         `json:"provider"`
	Config      map[string]any `json:"config"`
	IsDefault   bool           `json:"isDefault"`
}

func (h *Vaults) createVault(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b createVaultBody
	req, err := h.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := h.Commands.CreateVault(r.Context(), req, commands.CreateVault{CompanyID: company,
		DisplayName: b.DisplayName, Provider: b.Provider, Config: b.Config, IsDefault: b.IsDefault})
	if err != nil {
		return err
	}
	return h.respondVault(w, r, a, res, http.StatusCreated)
}

func (h *Vaults) listVaults(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	f := queries.VaultFilter{Provider: r.URL.Query().Get("provider")}
	if f.Provider != "" && !slices.Contains(commands.VaultProviders, f.Provider) {
		return ledgererr.New(ledgererr.BadRequest, "provider must be one of %s", strings.Join(commands.VaultProviders, ", "))
	}
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Vault], error) {
		return h.Queries.List(r.Context(), a, company, f, p)
	}, vaultView(a))
}

func (h *Vaults) getVault(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	v, err := h.Queries.Get(r.Context(), a, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vaultView(a)(v))
	return nil
}

type updateVaultBody struct {
	DisplayName *string        `json:"displayName"`
	Provider    *string        `json:"provider"`
	Config      map[string]any `json:"config"`
}

func (h *Vaults) updateVault(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	var b updateVaultBody
	req, err := h.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	res, err := h.Commands.UpdateVault(r.Context(), req, commands.UpdateVault{VaultID: mux.Vars(r)["id"],
		DisplayName: b.DisplayName, Provider: b.Provider, Config: b.Config})
	if err != nil {
		return err
	}
	return h.respondVault(w, r, a, res, http.StatusOK)
}

// vaultAction answers the routes that take no body and act on one vault.
func (h *Vaults) vaultAction(run func(context.Context, commands.Request, string) (commands.VaultResult, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
		req, err := h.emptyCommand(r, a)
		if err != nil {
			return err
		}
		res, err := run(r.Context(), req, mux.Vars(r)["id"])
		if err != nil {
			return err
		}
		return h.respondVault(w, r, a, res, http.StatusOK)
	}
}

func (h *Vaults) disableVault(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return h.vaultAction(h.Commands.DisableVault)(w, r, a)
}

func (h *Vaults) setDefaultVault(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return h.vaultAction(h.Commands.SetDefaultVault)(w, r, a)
}

func (h *Vaults) checkVaultHealth(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return h.vaultAction(h.Commands.CheckVaultHealth)(w, r, a)
}

// respondVault answers a command with the vault as the read model now shows it.
func (h *Vaults) respondVault(w http.ResponseWriter, r *http.Request, a actor.Actor, res commands.VaultResult, status int) error {
	v, err := h.Queries.Get(r.Context(), a, res.VaultID)
	if err != nil {
		return err
	}
	written(w, commands.Result{Position: res.Position, Replayed: res.Replayed})
	writeJSON(w, status, vaultView(a)(v))
	return nil
}

type vaultOut struct {
	ID              string            `json:"id"`
	CompanyID       string            `json:"companyId"`
	DisplayName     string            `json:"displayName"`
	Provider        string            `json:"provider"`
	Status          string            `json:"status"`
	IsDefault       bool              `json:"isDefault"`
	Config          map[string]string `json:"config"`
	HealthStatus    *string           `json:"healthStatus"`
	HealthCheckedAt *time.Time        `json:"healthCheckedAt"`
	HealthMessage   *string           `json:"healthMessage"`
	HealthDetails   map[string]any    `json:"healthDetails"`
	DisabledAt      *time.Time        `json:"disabledAt"`
	CreatedAt       time.Time         `json:"createdAt"`
	UpdatedAt       time.Time         `json:"updatedAt"`
}

// vaultView is vaultJSON as a shows it: a company-limited token does not see the
// instance details that health checks recorded before they were kept out of the log.
func vaultView(a actor.Actor) func(queries.Vault) vaultOut {
	if instanceWide(a) {
		return vaultJSON
	}
	return func(v queries.Vault) vaultOut {
		out := vaultJSON(v)
		ownPrefix := v.Config["secretNamePrefix"] != ""
		if out.HealthDetails != nil {
			kept := map[string]any{}
			for _, k := range vaultHealthKeys {
				if val, ok := out.HealthDetails[k]; ok && (k != "prefix" || ownPrefix) {
					kept[k] = val
				}
			}
			out.HealthDetails = kept
		}
		if out.HealthMessage != nil {
			var parts []string
			for _, part := range strings.Split(*out.HealthMessage, "; ") {
				if !slices.ContainsFunc(instanceDetailPrefixes, func(p string) bool { return strings.HasPrefix(part, p) }) {
					parts = append(parts, part)
				}
			}
			m := strings.Join(parts, "; ")
			if !ownPrefix {
				m = recordedPrefix.ReplaceAllString(m, "${1}the instance's default prefix")
			}
			out.HealthMessage = &m
		}
		return out
	}
}

// vaultHealthKeys are the health details a vault's own configuration decides (prefix
// only when the vault sets one).
var vaultHealthKeys = []string{"region", "prefix", "deploymentId", "kmsKeyConfigured"}

// instanceDetailPrefixes start the parts of a recorded health message that describe
// the instance rather than the vault.
var instanceDetailPrefixes = []string{"endpoint ", "credentials from ", "warning: static AWS_ACCESS_KEY_ID"}

// recordedPrefix is the prefix in a recorded health message ("region r, prefix p, …").
var recordedPrefix = regexp.MustCompile(`(^|, )prefix [^,;]*`)

func vaultJSON(v queries.Vault) vaultOut {
	return vaultOut{ID: v.ID, CompanyID: v.CompanyID, DisplayName: v.DisplayName, Provider: v.Provider, Status: v.Status,
		IsDefault: v.IsDefault, Config: v.Config, HealthStatus: v.HealthStatus, HealthCheckedAt: v.HealthCheckedAt,
		HealthMessage: v.HealthMessage, HealthDetails: v.HealthDetails, DisabledAt: v.DisabledAt, CreatedAt: v.CreatedAt,
		UpdatedAt: v.UpdatedAt}
}
