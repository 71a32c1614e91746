"""The page forms: a monitor's definition (``monitor``), the rule checker (``rules``) and the
import (``imports``)."""
