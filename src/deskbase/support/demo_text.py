"""What the demo says: people, companies, subjects, message lines and macros (support/demo.py tells the story).

Kept apart from the generator so the words can change without touching how the history is built; the demo's
agents here are the ones `make run` creates as users (server.py), so every demo assignee can sign in.
"""

from __future__ import annotations

FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Diego",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yara",
    "Zoe",
]
LAST = [
    "Garcia",
    "Smith",
    "Müller",
    "Rossi",
    "Kim",
    "Okafor",
    "Dubois",
    "Silva",
    "Novak",
    "Tanaka",
    "Berg",
    "Costa",
    "Nguyen",
    "Haddad",
    "Larsen",
    "Moreau",
    "Ivanova",
    "Patel",
    "Reyes",
    "Weber",
]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Retail",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Systems",
    "Cyberdyne",
    "Wonka Labs",
    "Pied Piper",
    "Massive Dynamic",
    "Oscorp",
    "Gringotts Finance",
    "Aperture Science",
    "Monarch Travel",
]
AGENTS = [
    "maria@support.example",
    "tom@support.example",
    "aisha@support.example",
    "li@support.example",
    "pedro@support.example",
    "sofia@support.example",
    "jamal@support.example",
    "nina@support.example",
]
SUBJECTS = {
    "bug": [
        "Export to CSV fails with a timeout",
        "Dashboard shows wrong totals",
        "Login loop after password reset",
        "Webhook deliveries stopped",
        "Mobile app crashes on upload",
        "Search returns deleted items",
    ],
    "feature_request": [
        "Please add SSO with Okta",
        "Bulk edit for tags",
        "Dark mode for the agent view",
        "API endpoint for audit logs",
        "Custom fields on customers",
    ],
    "question": [
        "How do I invite my team?",
        "Where can I find my API key?",
        "Is there a rate limit?",
        "Can I change the workspace region?",
        "How do SLAs pause on weekends?",
    ],
    "billing": [
        "Charged twice this month",
        "Need an invoice with our VAT id",
        "Downgrade from enterprise",
        "Card declined on renewal",
        "Refund for unused seats",
    ],
    "other": [
        "Feedback on the new editor",
        "Data deletion request",
        "Partnership inquiry",
        "Security questionnaire for procurement",
    ],
}
CUSTOMER_LINES = [
    "Any update on this?",
    "Here are the steps to reproduce, plus a screenshot.",
    "It still happens after clearing the cache.",
    "Thanks, that worked!",
    "We need this fixed today.",
]
AGENT_LINES = [
    "Thanks for reaching out — I'm looking into it now.",
    "Could you send the request id from the logs?",
    "We found the cause and shipped a fix; can you confirm?",
    "I've escalated this to engineering.",
    "Here is the article that explains the setting.",
]
NOTES = [
    "Reproduced on staging; linked to the export incident.",
    "Enterprise account — keep the CSM in the loop.",
    "Customer is on an old client version.",
    "Needs billing team approval for the refund.",
]
WEIGHTS_PRIORITY = (("low", 25), ("medium", 40), ("high", 25), ("urgent", 10))
WEIGHTS_PLAN = (("free", 55), ("pro", 30), ("enterprise", 15))

MACROS = [
    {
        "name": "Ask for logs",
        "shortcut": "logs",
        "body": 'Hi {{customer.first_name}},\n\nthanks for reporting "{{ticket.subject}}". Could you send us the '
        "browser console log and the time it happened (with your time zone)? That lets us find it on our side."
        "\n\nBest,\n{{agent}}",
        "set_status": "waiting",
        "add_tags": ["needs-info"],
    },
    {
        "name": "Password reset steps",
        "shortcut": "reset",
        "body": "Hi {{customer.first_name}},\n\nyou can reset your password from the sign-in page: choose "
        '"Forgot password", then follow the link we email you within a few minutes.\n\nBest,\n{{agent}}',
        "set_status": "resolved",
    },
    {
        "name": "Solved - closing",
        "shortcut": "solved",
        "body": "Hi {{customer.first_name}},\n\nglad this is sorted. I am closing the ticket; just reply if "
        "anything comes up again.\n\nBest,\n{{agent}}",
        "set_status": "resolved",
    },
    {
        "name": "Escalate to engineering",
        "shortcut": "escalate",
        "type": "internal_note",
        "body": "Escalating to engineering: {{ticket.subject}} ({{ticket.id}}). Customer: {{customer.name}}.",
        "set_priority": "high",
        "add_tags": ["engineering"],
    },
]
