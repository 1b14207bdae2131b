//! Registration rows: reading them and looking one up.

use crate::error::Error;
use crate::store::Registration;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_bridge::LoginId;

pub(super) fn new_login_id() -> LoginId {
    LoginId::new(format!("l{:024x}", rand::random::<u128>() >> 32))
}

pub(super) fn read_registration(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

pub(super) fn to_registration(
    (login, transport, jid, data): (String, String, String, String),
) -> Result<Registration, Error> {
    Ok(Registration {
        login: LoginId::new(login),
        transport,
        jid,
        data: serde_json::from_str(&data)?,
    })
}

pub(super) const SELECT_REG: &str = "SELECT login_id, transport, jid, data FROM registrations";

pub(super) fn find_registration(
    c: &Connection,
    transport: &str,
    jid: &str,
) -> Result<Option<Registration>, Error> {
    let row = c
        .query_row(
            &format!("{SELECT_REG} WHERE transport = ?1 AND jid = ?2"),
            params![transport, jid],
            read_registration,
        )
        .optional()?;
    row.map(to_registration).transpose()
}
