//! Opaque global ids (Relay): `base64url("Type:databaseId")`. Clients must treat them as
//! opaque; the encoding only has to round-trip and reject anything we did not issue.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::ApiError;

/// The kinds of object that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A catalog product (`Product`).
    Product,
    /// A brand (`Brand`).
    Brand,
    /// A partner shop (`Shop`).
    Shop,
    /// A node of the category tree (`Category`).
    Category,
    /// A user (`User`).
    User,
    /// A collage (`Collage`).
    Collage,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Product,
        Kind::Brand,
        Kind::Shop,
        Kind::Category,
        Kind::User,
        Kind::Collage,
    ];

    /// The GraphQL type name, which is also the id's prefix.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Product => "Product",
            Kind::Brand => "Brand",
            Kind::Shop => "Shop",
            Kind::Category => "Category",
            Kind::User => "User",
            Kind::Collage => "Collage",
        }
    }
}

/// A decoded global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    /// The object's type, which the id names.
    pub kind: Kind,
    /// The object's database id, always positive.
    pub id: i32,
}

impl GlobalId {
    /// The global id of object `id` of `kind`.
    pub fn new(kind: Kind, id: i32) -> Self {
        Self { kind, id }
    }

    /// The opaque string clients see.
    pub fn encode(self) -> async_graphql::ID {
        let raw = format!("{}:{}", self.kind.type_name(), self.id);
        async_graphql::ID(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Decodes an id of any kind; anything we could not have issued is `BAD_USER_INPUT`.
    pub fn decode(id: &str) -> Result<Self, ApiError> {
        let malformed = || ApiError::BadUserInput(format!("malformed global id {id:?}"));
        let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| malformed())?;
        let raw = std::str::from_utf8(&bytes).map_err(|_| malformed())?;
        let (type_name, number) = raw.split_once(':').ok_or_else(malformed)?;
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.type_name() == type_name)
            .ok_or_else(malformed)?;
        // Reject signs, leading zeros and the like: only ids we encoded round-trip.
        let id: i32 = number.parse().map_err(|_| malformed())?;
        if id <= 0 || id.to_string() != number {
            return Err(malformed());
        }
        Ok(Self { kind, id })
    }

    /// Decodes an id that must be of one kind.
    pub fn decode_as(id: &str, kind: Kind) -> Result<i32, ApiError> {
        let global = Self::decode(id)?;
        if global.kind != kind {
            return Err(ApiError::BadUserInput(format!(
                "id {id:?} is not a {} id",
                kind.type_name()
            )));
        }
        Ok(global.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_for_every_kind() {
        for kind in Kind::ALL {
            let id = GlobalId::new(kind, 4711);
            assert_eq!(GlobalId::decode(&id.encode()).unwrap(), id);
        }
    }

    #[test]
    fn foreign_or_mangled_ids_are_bad_user_input() {
        let encode = |raw: &str| URL_SAFE_NO_PAD.encode(raw);
        for bad in [
            "not base64!".to_owned(),
            encode("Product"),
            encode("Product:"),
            encode("Product:-3"),
            encode("Product:007"),
            encode("Product:99999999999"),
            encode("Wardrobe:1"),
            String::new(),
        ] {
            let error = GlobalId::decode(&bad).unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{bad:?}");
        }
    }

    #[test]
    fn an_id_of_another_kind_is_rejected_where_one_kind_is_expected() {
        let brand = GlobalId::new(Kind::Brand, 3).encode();
        let error = GlobalId::decode_as(&brand, Kind::Product).unwrap_err();
        assert_eq!(error.code(), "BAD_USER_INPUT");
    }
}
