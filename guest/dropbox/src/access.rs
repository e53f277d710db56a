//! Access-control documents: one per team member, in `.search-acl-filter-<index>`, as
//! Elastic's document-level security reads them.
//!
//! A search application (or an API key's role) takes a member's document, reads
//! `query.template`, and filters searches with it: a document is visible when its
//! `_allow_access_control` holds one of the member's identities, or when it has none.

use serde_json::{Value, json};

use crate::acl::person;
use crate::document::{Document, Fields};
use crate::team::Member;

/// The scope of access-control documents (declared with target `access-control`).
pub const SCOPE_ACCESS: &str = "access_control";

/// Elastic's DLS query template. It matches `_allow_access_control.keyword` (the sub-field
/// Elastic's current connectors use; the mapping also keeps the older `.enum`).
pub const DLS_QUERY: &str = r#"{"bool":{"should":[{"bool":{"must_not":{"exists":{"field":"_allow_access_control"}}}},{"terms":{"_allow_access_control.keyword":{{#toJson}}access_control{{/toJson}}}}]}}"#;

/// Whoever the document is about.
pub struct Person<'a> {
    pub account_id: Option<&'a str>,
    pub email: &'a str,
    pub display_name: &'a str,
    pub groups: &'a [String],
    pub status: &'a str,
    pub created_at: Option<&'a str>,
}

impl<'a> From<&'a Member> for Person<'a> {
    fn from(m: &'a Member) -> Person<'a> {
        Person {
            account_id: m.account_id.as_deref(),
            email: &m.email,
            display_name: &m.display_name,
            groups: &m.groups,
            status: &m.status,
            created_at: m.joined_on.as_deref().or(m.invited_on.as_deref()),
        }
    }
}

/// The identities a person searches with: theirs and their groups'.
pub fn identities(p: &Person<'_>) -> Vec<String> {
    let mut ids = person(p.account_id, Some(p.email));
    if !p.display_name.is_empty() {
        ids.insert(format!("user:{}", p.display_name));
    }
    ids.extend(
        p.groups
            .iter()
            .filter(|g| !g.is_empty())
            .map(|g| format!("group:{g}")),
    );
    ids.into_iter().collect()
}

/// The access-control document of one person (its id is the email, as Elastic's).
pub fn document(p: &Person<'_>) -> Document {
    let prefixed = |kind: &str, v: Option<&str>| {
        v.filter(|v| !v.is_empty())
            .map_or(Value::Null, |v| json!(format!("{kind}:{v}")))
    };
    let mut fields = json!({
        "identity": {
            "email": prefixed("email", Some(p.email)),
            "username": prefixed("user", Some(p.display_name)),
            "user_id": prefixed("user_id", p.account_id),
        },
        "status": p.status,
        "query": {
            "template": {
                "params": {"access_control": identities(p)},
                "source": DLS_QUERY,
            }
        }
    });
    if let Some(t) = p.created_at {
        fields["created_at"] = json!(t);
    }
    Document {
        id: p.email.to_string(),
        scope: SCOPE_ACCESS.to_string(),
        fields: Fields::from(fields),
        content: None,
    }
}

/// Mapping `properties` of the access-control documents.
pub fn properties() -> Value {
    let keyword = json!({"type": "keyword"});
    json!({
        "identity": {"properties": {"email": keyword, "username": keyword, "user_id": keyword}},
        "status": keyword,
        "created_at": {"type": "date"},
        "query": {"properties": {"template": {"properties": {
            "params": {"properties": {"access_control": keyword}},
            "source": {"type": "keyword", "index": false, "doc_values": false}
        }}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_document_matches_elastic_shape() {
        let groups = vec!["g:1".to_string()];
        let d = document(&Person {
            account_id: Some("dbid:A"),
            email: "ann@acme.example",
            display_name: "Ann Lee",
            groups: &groups,
            status: "active",
            created_at: Some("2024-01-01T00:00:00Z"),
        });
        assert_eq!(d.id, "ann@acme.example");
        assert_eq!(d.scope, "access_control");
        assert_eq!(
            d.fields["identity"],
            json!({"email": "email:ann@acme.example", "username": "user:Ann Lee", "user_id": "user_id:dbid:A"})
        );
        assert_eq!(
            d.fields["query"]["template"]["params"]["access_control"],
            json!([
                "email:ann@acme.example",
                "group:g:1",
                "user:Ann Lee",
                "user_id:dbid:A"
            ])
        );
        assert_eq!(d.fields["query"]["template"]["source"], DLS_QUERY);
        assert_eq!(d.fields["created_at"], "2024-01-01T00:00:00Z");
        let template: Value = serde_json::from_str(
            &DLS_QUERY.replace("{{#toJson}}access_control{{/toJson}}", "[\"x\"]"),
        )
        .unwrap();
        assert_eq!(
            template["bool"]["should"][1]["terms"]["_allow_access_control.keyword"],
            json!(["x"])
        );
    }

    #[test]
    fn invited_member_has_no_user_id() {
        let d = document(&Person {
            account_id: None,
            email: "new@acme.example",
            display_name: "",
            groups: &[],
            status: "invited",
            created_at: None,
        });
        assert_eq!(d.fields["identity"]["user_id"], Value::Null);
        assert_eq!(
            d.fields["query"]["template"]["params"]["access_control"],
            json!(["email:new@acme.example"])
        );
        assert!(d.fields.get("created_at").is_none());
    }
}
