package awsfake

import (
	"slices"
	"time"
)

type secretIDIn struct{ SecretId string }

func (s *Server) describeSecret(in secretIDIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	stages := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[id] = v.stages
		}
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "Tags": sec.tags, "VersionIdsToStages": stages, "CreatedDate": epoch(sec.created)}
	if sec.kms != "" {
		out["KmsKeyId"] = sec.kms
	}
	if sec.deleted != nil {
		out["DeletedDate"] = epoch(*sec.deleted)
	}
	return out, nil
}

type updateStageIn struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

func (s *Server) updateSecretVersionStage(in updateStageIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deleted != nil {
		return nil, markedDeleted()
	}
	if in.VersionStage == "" {
		return nil, errf("InvalidParameterException", "VersionStage is required.")
	}
	for _, id := range []string{in.MoveToVersionId, in.RemoveFromVersionId} {
		if id != "" && sec.versions[id] == nil {
			return nil, errf("InvalidParameterException", "The version %s does not exist.", id)
		}
	}
	holder := ""
	for id, v := range sec.versions {
		if slices.Contains(v.stages, in.VersionStage) {
			holder = id
		}
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.MoveToVersionId != "" {
		if holder == in.MoveToVersionId {
			return out, nil
		}
		if holder != "" && in.RemoveFromVersionId != holder {
			return nil, errf("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", in.VersionStage, holder)
		}
		sec.attach(in.VersionStage, in.MoveToVersionId)
		return out, nil
	}
	switch {
	case in.RemoveFromVersionId == "":
		return nil, errf("InvalidParameterException", "Either MoveToVersionId or RemoveFromVersionId is required.")
	case holder != in.RemoveFromVersionId:
		return nil, errf("InvalidParameterException", "The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionId)
	case in.VersionStage == Current:
		return nil, errf("InvalidParameterException", "You can't remove the staging label AWSCURRENT from a version; move it to another version instead.")
	}
	v := sec.versions[in.RemoveFromVersionId]
	v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == in.VersionStage })
	return out, nil
}

type deleteSecretIn struct {
	SecretId                   string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

func (s *Server) deleteSecret(in deleteSecretIn) (any, *apiError) {
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, errf("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	sec := s.lookup(in.SecretId)
	now := time.Now()
	if force {
		// AWS accepts a forced delete of a secret scheduled for deletion, and of one that
		// does not exist (no ResourceNotFoundException).
		out := map[string]any{"Name": in.SecretId, "DeletionDate": epoch(now)}
		if sec != nil {
			delete(s.secrets, sec.name)
			out["ARN"], out["Name"] = sec.arn, sec.name
		}
		return out, nil
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
	}
	switch {
	case days < 7 || days > 30:
		return nil, errf("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	case sec == nil:
		return nil, notFound()
	case sec.deleted != nil:
		return nil, errf("InvalidRequestException", "You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	sec.deleted = &now
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(now.Add(time.Duration(days) * 24 * time.Hour))}, nil
}

func (s *Server) restoreSecret(in secretIDIn) (any, *apiError) {
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	sec.deleted = nil
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}
