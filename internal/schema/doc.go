// Package schema knows the JSON shape of the compiled Kubernetes API types.
//
// It reflects over k8s.io/api types and their json and patchMergeKey struct
// tags to answer three questions about a generic decoded JSON document
// (map[string]interface{}, []interface{}, string, json.Number or float64,
// bool, nil):
//   - which members does the compiled type not know ([Type.Unknowns]);
//   - what is the identity of a list element: its merge key where the
//     list has one and the key is present and unique, its index otherwise
//     ([Type.ElementSegments], [Path]);
//   - what merge key does the list at a field path use ([Type.Lookup],
//     [Type.MergeKey]).
//
// Member names are matched case-sensitively, as kube-apiserver decodes
// them (encoding/json would also accept "Image" for "image"; the API server
// drops it). Types with their own JSON encoding (resource.Quantity,
// intstr.IntOrString, metav1.Time, runtime.RawExtension, ...) are leaves:
// their content is opaque and never unknown.
package schema
