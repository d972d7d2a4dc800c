//! Kubernetes' naming rules: compose names made into DNS labels, and which label keys,
//! label values and data keys the API accepts.

/// A DNS-1123 label (`[a-z0-9-]`, at most 63, alphanumeric at both ends), or None when
/// nothing of `s` is left.
pub fn dns_label(s: &str) -> Option<String> {
    let mapped: String = s.to_lowercase().chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' }).collect();
    let trimmed = mapped.trim_matches('-');
    let cut: String = trimmed.chars().take(63).collect();
    let cut = cut.trim_end_matches('-').to_string();
    (!cut.is_empty()).then_some(cut)
}

/// A DNS-1035 label, what Service names must be: a DNS-1123 label that starts with a letter.
pub fn service_label(s: &str) -> Option<String> {
    let l = dns_label(s)?;
    if l.starts_with(|c: char| c.is_ascii_digit()) { dns_label(&format!("svc-{l}")) } else { Some(l) }
}

/// `<name>-<suffix>` within 63 characters (the name is cut, never the suffix).
pub fn suffixed(name: &str, suffix: &str) -> String {
    let keep = 63usize.saturating_sub(suffix.len() + 1);
    let base: String = name.chars().take(keep).collect();
    format!("{}-{suffix}", base.trim_end_matches('-'))
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` of at most 63: a label value or a key's name part.
fn qualified(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253.
fn subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|l| dns_label(l).as_deref() == Some(l))
}

/// A label or annotation key: `[prefix/]name`.
pub fn valid_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => subdomain(prefix) && qualified(name),
        None => qualified(k),
    }
}

pub fn valid_label_value(v: &str) -> bool {
    v.is_empty() || qualified(v)
}

/// A ConfigMap or Secret data key (`[-._a-zA-Z0-9]+`): other characters become `_`.
pub fn data_key(s: &str) -> String {
    let k: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if k.is_empty() || k == "." || k == ".." { format!("_{k}") } else { k }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_names() {
        assert_eq!(dns_label("Web_App.1").as_deref(), Some("web-app-1"));
        assert_eq!(dns_label("__"), None);
        assert_eq!(dns_label(&"a".repeat(70)).map(|s| s.len()), Some(63));
        assert_eq!(service_label("1web").as_deref(), Some("svc-1web"));
        assert_eq!(suffixed(&"a".repeat(63), "public").len(), 63);
        assert!(valid_key("app.kubernetes.io/name") && valid_key("com.example.tier") && !valid_key("a b") && !valid_key("Ex_ample/x"));
        assert!(valid_label_value("front-end_1") && valid_label_value("") && !valid_label_value("Accounting webapp"));
        assert_eq!(data_key("my config"), "my_config");
    }
}
