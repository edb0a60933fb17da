//! sea-orm entities for svc-candidate's tables.

pub mod election {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "elections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub title: String,
        pub description: String,
        pub method: String,
        pub max_choices: i64,
        pub opens_at_ms: i64,
        pub closes_at_ms: i64,
        pub results_visibility: String,
        pub eligibility: String,
        pub status: String,
        pub version: i64,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
        pub remind_before_close_ms: Option<i64>,
        pub ballot_export: String,
        pub auto_reminder_requested_at_ms: Option<i64>,
        pub questions: Option<Vec<u8>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod candidate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "candidates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub election_id: String,
        pub name: String,
        pub party: String,
        pub description: String,
        pub image_url: String,
        pub ballot_position: i64,
        pub question_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod roll_entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "roll_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub election_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub email: String,
        pub weight: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
