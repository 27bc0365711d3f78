package awsfake

import (
	"encoding/base64"
	"slices"
	"strings"
)

type listSecretsIn struct {
	MaxResults             *int
	NextToken              string
	IncludePlannedDeletion bool
	SortOrder              string
	Filters                []struct {
		Key    string
		Values []string
	}
}

// listToken is the fake's NextToken: the last name of the page, base64-encoded (opaque
// to clients, as AWS's are).
const listTokenPrefix = "fake-next:"

// matches is the fake's approximation of AWS's filters: "name" is a prefix of the name,
// "description" a prefix of the description, "tag-key"/"tag-value" a prefix of a tag's
// key/value, and "all" any of those (case-insensitive). A leading "!" negates, as at AWS.
func (sec *secret) matches(key, value string) bool {
	neg := strings.HasPrefix(value, "!")
	value = strings.ToLower(strings.TrimPrefix(value, "!"))
	has := func(s string) bool { return strings.HasPrefix(strings.ToLower(s), value) }
	var hit bool
	switch key {
	case "name":
		hit = has(sec.name)
	case "description":
		hit = has(sec.description)
	case "tag-key", "tag-value", "all":
		if key == "all" {
			hit = has(sec.name) || has(sec.description)
			for _, seg := range strings.FieldsFunc(sec.name, func(r rune) bool { return r == '/' || r == '-' || r == '_' }) {
				hit = hit || has(seg)
			}
		}
		for _, t := range sec.tags {
			hit = hit || (key != "tag-value" && has(t.Key)) || (key != "tag-key" && has(t.Value))
		}
	}
	return hit != neg
}

func (s *Server) listSecrets(in listSecretsIn) (any, *apiError) {
	limit := 100
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	if limit < 1 || limit > 100 {
		return nil, errf("InvalidParameterException", "MaxResults must be 1 to 100.")
	}
	after := ""
	if in.NextToken != "" {
		raw, err := base64.StdEncoding.DecodeString(in.NextToken)
		if err != nil || !strings.HasPrefix(string(raw), listTokenPrefix) {
			return nil, errf("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		after = strings.TrimPrefix(string(raw), listTokenPrefix)
	}
	for _, f := range in.Filters {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value", "all":
		default:
			return nil, errf("ValidationException", "the fake does not implement the filter %s", f.Key)
		}
	}
	names := make([]string, 0, len(s.secrets))
	for name, sec := range s.secrets {
		if sec.deleted != nil && !in.IncludePlannedDeletion {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			any := false
			for _, v := range f.Values {
				any = any || sec.matches(f.Key, v)
			}
			ok = ok && any
		}
		if ok && name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		out["NextToken"] = base64.StdEncoding.EncodeToString([]byte(listTokenPrefix + names[limit-1]))
	}
	list := make([]any, 0, len(names))
	for _, name := range names {
		sec := s.secrets[name]
		stages := map[string][]string{}
		for id, v := range sec.versions {
			if len(v.stages) > 0 {
				stages[id] = v.stages
			}
		}
		e := map[string]any{"ARN": sec.arn, "Name": sec.name, "Tags": sec.tags, "SecretVersionsToStages": stages,
			"CreatedDate": epoch(sec.created), "LastChangedDate": epoch(sec.created)}
		if sec.description != "" {
			e["Description"] = sec.description
		}
		if sec.kms != "" {
			e["KmsKeyId"] = sec.kms
		}
		if sec.deleted != nil {
			e["DeletedDate"] = epoch(*sec.deleted)
		}
		list = append(list, e)
	}
	out["SecretList"] = list
	return out, nil
}
