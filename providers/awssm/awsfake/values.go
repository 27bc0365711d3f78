package awsfake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// lookup finds a secret by name or full ARN.
func (s *Server) lookup(id string) *secret {
	if strings.HasPrefix(id, "arn:") {
		for _, sec := range s.secrets {
			if sec.arn == id {
				return sec
			}
		}
		return nil
	}
	return s.secrets[id]
}

func checkToken(token string) *apiError {
	if token != "" && (len(token) < 32 || len(token) > 64) {
		return errf("InvalidParameterException", "ClientRequestToken must be 32-64 characters long.")
	}
	return nil
}

// attach moves label to version id as AWS does: off any other version first, and when
// AWSCURRENT moves, AWSPREVIOUS goes to the version it left.
func (sec *secret) attach(label, id string) {
	previous := ""
	for vid, v := range sec.versions {
		if vid != id && slices.Contains(v.stages, label) {
			v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == label })
			if label == Current {
				previous = vid
			}
		}
	}
	v := sec.versions[id]
	if !slices.Contains(v.stages, label) {
		v.stages = append(v.stages, label)
	}
	if previous != "" {
		sec.attach(Previous, previous)
	}
}

func (sec *secret) current() *version {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, Current) {
			return v
		}
	}
	return nil
}

type createSecretIn struct {
	Name               string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	Tags               []Tag
	KmsKeyId           string
	Description        string
}

func (s *Server) createSecret(in createSecretIn) (any, *apiError) {
	if in.Name == "" || len(in.Name) > 512 {
		return nil, errf("InvalidParameterException", "Invalid name.")
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, errf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	if in.ClientRequestToken == "" && hasValue {
		in.ClientRequestToken = newToken()
	}
	if sec := s.secrets[in.Name]; sec != nil {
		if sec.deleted != nil {
			return nil, errf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		if v := sec.versions[in.ClientRequestToken]; v != nil && hasValue {
			if v.same(in.SecretString, in.SecretBinary) {
				return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id}, nil
			}
		}
		return nil, errf("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	now := time.Now()
	sec := &secret{name: in.Name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.Region, Account, in.Name, suffix()),
		kms: in.KmsKeyId, description: in.Description, tags: in.Tags, versions: map[string]*version{}, created: now}
	s.secrets[in.Name] = sec
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if hasValue {
		sec.versions[in.ClientRequestToken] = &version{id: in.ClientRequestToken, str: in.SecretString, bin: in.SecretBinary,
			stages: []string{Current}, created: now}
		out["VersionId"] = in.ClientRequestToken
	}
	return out, nil
}

type putSecretValueIn struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

func (s *Server) putSecretValue(in putSecretValueIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deleted != nil {
		return nil, markedDeleted()
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if (in.SecretString == nil) == (in.SecretBinary == nil) {
		return nil, errf("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	}
	if in.ClientRequestToken == "" {
		in.ClientRequestToken = newToken()
	}
	if v := sec.versions[in.ClientRequestToken]; v != nil {
		if !v.same(in.SecretString, in.SecretBinary) {
			return nil, errf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages}, nil
	}
	first := len(sec.versions) == 0
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{Current}
	}
	sec.versions[in.ClientRequestToken] = &version{id: in.ClientRequestToken, str: in.SecretString, bin: in.SecretBinary, created: time.Now()}
	for _, label := range stages {
		sec.attach(label, in.ClientRequestToken)
	}
	if first {
		sec.attach(Current, in.ClientRequestToken)
	}
	v := sec.versions[in.ClientRequestToken]
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages}, nil
}

type getSecretValueIn struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

func valueEntry(sec *secret, v *version) map[string]any {
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages, "CreatedDate": epoch(v.created)}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = v.bin
	}
	return out
}

func (s *Server) getSecretValue(in getSecretValueIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deleted != nil {
		return nil, markedDeleted()
	}
	var v *version
	switch {
	case in.VersionId != "":
		v = sec.versions[in.VersionId]
		if v == nil || (in.VersionStage != "" && !slices.Contains(v.stages, in.VersionStage)) {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionId)
		}
	default:
		stage := in.VersionStage
		if stage == "" {
			stage = Current
		}
		for _, c := range sec.versions {
			if slices.Contains(c.stages, stage) {
				v = c
			}
		}
		if v == nil {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	return valueEntry(sec, v), nil
}

type batchGetSecretValueIn struct {
	SecretIdList []string
	Filters      []json.RawMessage
}

func (s *Server) batchGetSecretValue(in batchGetSecretValueIn) (any, *apiError) {
	switch {
	case len(in.Filters) > 0:
		return nil, errf("InvalidParameterException", "the fake does not implement Filters")
	case len(in.SecretIdList) == 0:
		return nil, errf("InvalidParameterException", "Either Filters or SecretIdList must be specified.")
	case len(in.SecretIdList) > 20:
		return nil, errf("InvalidParameterException", "SecretIdList can contain at most 20 secrets.")
	}
	values, errs := []any{}, []any{}
	for _, id := range in.SecretIdList {
		sec := s.lookup(id)
		var e *apiError
		switch {
		case sec == nil:
			e = notFound()
		case sec.deleted != nil:
			e = markedDeleted()
		case sec.current() == nil:
			e = errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
		}
		if e != nil {
			errs = append(errs, map[string]string{"SecretId": id, "ErrorCode": e.code, "Message": e.msg})
			continue
		}
		values = append(values, valueEntry(sec, sec.current()))
	}
	return map[string]any{"SecretValues": values, "Errors": errs}, nil
}
