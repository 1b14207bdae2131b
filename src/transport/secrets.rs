//! Secrets in stored settings: the values of a command form's secret fields are sealed
//! ([`crate::store::seal`]) before they are written and opened when read back, so the
//! database alone never holds them in clear.

use super::Transport;
use crate::store::seal::Sealer;
use switchboard_bridge::{CommandForm, FieldKind, FormValues, LoginId};

/// Where a sealed value belongs: the login, the settings key and the field.
fn context(login: &LoginId, key: &str, field: &str) -> String {
    format!("{login}\u{0}{key}\u{0}{field}")
}

fn secret_fields(form: &CommandForm) -> impl Iterator<Item = &str> {
    form.fields
        .iter()
        .filter(|f| f.kind == FieldKind::Secret)
        .map(|f| f.name)
}

impl Transport {
    /// `values` as they are stored: each secret field sealed.
    pub(super) fn seal_secrets(
        &self,
        login: &LoginId,
        key: &str,
        form: &CommandForm,
        values: &FormValues,
    ) -> FormValues {
        let mut stored = values.clone();
        for name in secret_fields(form) {
            if let Some(v) = stored.get_mut(name).filter(|v| !v.is_empty()) {
                *v = self.sealer.seal(v, &context(login, key, name));
            }
        }
        stored
    }

    /// One value sealed for `field` of settings `key` (for settings that are not a form).
    pub(super) fn seal_value(&self, login: &LoginId, key: &str, field: &str, v: &str) -> String {
        self.sealer.seal(v, &context(login, key, field))
    }

    /// A value [`Transport::seal_value`] sealed, opened; `None` (with a warning) when it no
    /// longer opens.
    pub(super) fn open_value(
        &self,
        login: &LoginId,
        key: &str,
        field: &str,
        sealed: &str,
    ) -> Option<String> {
        match self.sealer.open(sealed, &context(login, key, field)) {
            Ok(plain) => Some(plain),
            Err(e) => {
                tracing::warn!(domain = %self.domain, login = %login, field, error = %e, "A stored secret does not open; dropped");
                None
            }
        }
    }

    /// Stored values with each secret field opened. A secret that no longer opens (the
    /// secret it was sealed under changed) is dropped with a warning: the user enters it
    /// again. The flag tells whether a value was stored in clear (from before sealing) and
    /// should be written back sealed.
    pub(super) fn open_secrets(
        &self,
        login: &LoginId,
        key: &str,
        form: &CommandForm,
        stored: &FormValues,
    ) -> (FormValues, bool) {
        let mut values = stored.clone();
        let mut in_clear = false;
        for name in secret_fields(form) {
            let Some(v) = values.get(name).filter(|v| !v.is_empty()).cloned() else {
                continue;
            };
            in_clear |= !Sealer::is_sealed(&v);
            match self.sealer.open(&v, &context(login, key, name)) {
                Ok(plain) => {
                    values.insert(name.to_string(), plain);
                }
                Err(e) => {
                    tracing::warn!(domain = %self.domain, login = %login, field = name, error = %e, "A stored secret does not open; dropped");
                    values.remove(name);
                }
            }
        }
        (values, in_clear)
    }
}
