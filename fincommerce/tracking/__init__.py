"""Tracking: event validation and behaviour text, the event log (batch path) and log importers."""
from fincommerce.tracking.events import behaviour_text, build_interaction, event_from_dict
from fincommerce.tracking.importers import ImportReport, import_rees46
from fincommerce.tracking.log import EventLog
from fincommerce.tracking.rees46 import read_rees46

__all__ = ["EventLog", "ImportReport", "behaviour_text", "build_interaction", "event_from_dict", "import_rees46",
           "read_rees46"]
