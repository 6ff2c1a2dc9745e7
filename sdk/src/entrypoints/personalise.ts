// The lazily loaded chunk of the script-tag build: slots and questionnaires. attune.js loads it
// (from beside itself) only on pages that have either, and calls what this sets.
import { win } from '../browser/globals.ts'
import { personalise } from '../browser/personalise.ts'

if (win) (win as { attunePersonalise?: typeof personalise }).attunePersonalise = personalise
