//! The team directory: member statuses and groups.
//!
//! Group membership is what `team/members/list_v2` reports in `profile.groups` and what
//! `team/groups/members/list` lists; a group grant on a folder or file gives access to every
//! member of the group who still has access to the team (see [`MemberStatus::has_access`]).

use crate::state::World;

/// `TeamMemberStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    /// A full member.
    Active,
    /// Invited, has not joined: no account content, no access.
    Invited,
    /// Suspended by an admin: cannot sign in, keeps its memberships (admins still reach its data).
    Suspended,
    /// Removed from the team: its home leaves every view, it loses every membership.
    Removed,
}

impl MemberStatus {
    /// Wire tag.
    pub fn tag(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Invited => "invited",
            MemberStatus::Suspended => "suspended",
            MemberStatus::Removed => "removed",
        }
    }

    /// Parse a wire tag.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => MemberStatus::Active,
            "invited" => MemberStatus::Invited,
            "suspended" => MemberStatus::Suspended,
            "removed" => MemberStatus::Removed,
            _ => return None,
        })
    }

    /// Whether the member's grants count: active and suspended members keep their access
    /// rights (a suspension is a sign-in block), invited and removed members have none.
    pub fn has_access(self) -> bool {
        matches!(self, MemberStatus::Active | MemberStatus::Suspended)
    }
}

/// `GroupManagementType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupManagement {
    /// Created and managed by an admin.
    CompanyManaged,
    /// Created and managed by a member.
    UserManaged,
    /// Managed by Dropbox ("Everyone at <team>").
    SystemManaged,
}

impl GroupManagement {
    /// Wire tag.
    pub fn tag(self) -> &'static str {
        match self {
            GroupManagement::CompanyManaged => "company_managed",
            GroupManagement::UserManaged => "user_managed",
            GroupManagement::SystemManaged => "system_managed",
        }
    }

    /// Parse a wire tag (system groups cannot be created).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "company_managed" => GroupManagement::CompanyManaged,
            "user_managed" => GroupManagement::UserManaged,
            _ => return None,
        })
    }
}

/// A team group.
#[derive(Clone, Debug)]
pub struct Group {
    /// `g:` + 32 hex characters.
    pub id: String,
    /// Name.
    pub name: String,
    /// Optional external id.
    pub external_id: Option<String>,
    /// Who manages it.
    pub management: GroupManagement,
    /// The system group whose members are every member with access.
    pub everyone: bool,
    /// Explicit members (account indexes), in joining order; empty for the everyone group.
    pub members: Vec<usize>,
    /// Members who manage the group.
    pub owners: Vec<usize>,
    /// Creation time.
    pub created: i64,
}

impl Group {
    /// The "Everyone at <team>" system group.
    pub fn everyone(id: &str, team_name: &str) -> Self {
        Group {
            id: id.to_string(),
            name: format!("Everyone at {team_name}"),
            external_id: None,
            management: GroupManagement::SystemManaged,
            everyone: true,
            members: Vec::new(),
            owners: Vec::new(),
            created: crate::seed::BASE_TIME,
        }
    }

    /// `GroupType`: the everyone group is `team`, the others `user_managed`.
    pub fn group_type(&self) -> &'static str {
        if self.everyone {
            "team"
        } else {
            "user_managed"
        }
    }
}

impl World {
    /// Whether the account's grants count (personal accounts always).
    pub fn has_access(&self, account: usize) -> bool {
        self.accounts
            .get(account)
            .is_some_and(|a| a.status.has_access())
    }

    /// Group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Group by id or (case-insensitive) name.
    pub fn find_group(&self, id_or_name: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.id == id_or_name)
            .or_else(|| {
                self.groups
                    .iter()
                    .position(|g| g.name.eq_ignore_ascii_case(id_or_name))
            })
    }

    /// Current members of a group (the everyone group: every member with access).
    pub fn group_members(&self, g: &Group) -> Vec<usize> {
        if g.everyone {
            (0..self.accounts.len())
                .filter(|&i| self.has_access(i))
                .collect()
        } else {
            g.members
                .iter()
                .copied()
                .filter(|&i| self.has_access(i))
                .collect()
        }
    }

    /// Whether an account belongs to a group (and still has access).
    pub fn in_group(&self, account: usize, group_id: &str) -> bool {
        if !self.has_access(account) {
            return false;
        }
        self.group(group_id)
            .is_some_and(|g| g.everyone || g.members.contains(&account))
    }

    /// Ids of the groups an account belongs to (what `profile.groups` lists).
    pub fn groups_of(&self, account: usize) -> Vec<String> {
        if !self.has_access(account) {
            return Vec::new();
        }
        self.groups
            .iter()
            .filter(|g| g.everyone || g.members.contains(&account))
            .map(|g| g.id.clone())
            .collect()
    }

    /// Account by team member id or (case-insensitive) email.
    pub fn find_member(&self, id_or_email: &str) -> Option<usize> {
        self.member(id_or_email).or_else(|| {
            self.accounts
                .iter()
                .position(|a| a.email.eq_ignore_ascii_case(id_or_email))
        })
    }

    /// Account by account id.
    pub fn account_by_id(&self, account_id: &str) -> Option<usize> {
        self.accounts
            .iter()
            .position(|a| a.account_id == account_id)
    }
}
