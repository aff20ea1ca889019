#include "model.h"

#include <string.h>

static const char *const model__state_names[STATE_COUNT_] = {
    "DRAFT", "ACTIVE", "INACTIVE", "DEPLOYED", "OBSOLETE", "TEST", "ON_HOLD",
};

const char *model_state_name(model_state_t s)
{
    return (unsigned)s < STATE_COUNT_ ? model__state_names[s] : "UNKNOWN";
}

int model_state_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < STATE_COUNT_; i++)
        if (strcmp(name, model__state_names[i]) == 0)
            return i;
    return -1;
}

const char *model_item_type_name(model_item_type_t t)
{
    switch (t) {
    case ITEM_UPGRADE: return "UPGRADE";
    case ITEM_UPSELL: return "UPSELL";
    case ITEM_RENEWAL: return "RENEWAL";
    case ITEM_STANDARD: break;
    }
    return NULL;
}
