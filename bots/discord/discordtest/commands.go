package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// locales are the locales Discord accepts in localization maps.
var locales = map[string]bool{
	"id": true, "da": true, "de": true, "en-GB": true, "en-US": true, "es-ES": true, "es-419": true, "fr": true,
	"hr": true, "it": true, "lt": true, "hu": true, "nl": true, "no": true, "pl": true, "pt-BR": true, "ro": true,
	"fi": true, "sv-SE": true, "vi": true, "tr": true, "cs": true, "el": true, "bg": true, "ru": true, "uk": true,
	"hi": true, "th": true, "zh-CN": true, "ja": true, "zh-TW": true, "ko": true,
}

// commandName is Discord's pattern for command and option names.
var commandName = regexp.MustCompile(`^[-_'\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$`)

const (
	commandsMax    = 100
	optionsMax     = 25
	choicesMax     = 25
	descriptionMax = 100
	commandCharMax = 4000
)

// overwriteCommands answers PUT /applications/{app}[/guilds/{guild}]/commands.
func (s *Server) overwriteCommands(w http.ResponseWriter, req *request, guild string) {
	var cmds []*discordgo.ApplicationCommand
	if err := json.Unmarshal(req.raw, &cmds); err != nil {
		writeError(w, formError("_root", "BASE_TYPE_ARRAY", "Must be an array."))
		return
	}
	if len(cmds) > commandsMax {
		writeError(w, formError("_root", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", commandsMax)))
		return
	}
	seen := map[string]bool{}
	for i, c := range cmds {
		if c == nil {
			writeError(w, formError(fmt.Sprint(i), "BASE_TYPE_REQUIRED", "This field is required"))
			return
		}
		if c.Type == 0 {
			c.Type = discordgo.ChatApplicationCommand
		}
		if err := checkCommand(fmt.Sprint(i), c); err != nil {
			writeError(w, err)
			return
		}
		k := fmt.Sprint(c.Type, "/", c.Name)
		if seen[k] {
			writeError(w, formError(fmt.Sprint(i, ".name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"))
			return
		}
		seen[k] = true
	}
	s.mu.Lock()
	old := s.commands[guild]
	for _, c := range cmds {
		// Like Discord: a command keeps its id when its name and type stay.
		c.ID = ""
		for _, o := range old {
			if o.Name == c.Name && o.Type == c.Type {
				c.ID = o.ID
			}
		}
		if c.ID == "" {
			c.ID = s.commandIDLocked(guild, c.Name)
		}
		c.ApplicationID = s.AppID
		c.GuildID = guild
		c.Version = s.Snowflake()
	}
	s.commands[guild] = cmds
	out := cloneCommands(cmds)
	s.changes.Notify()
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) commandIDLocked(guild, name string) string {
	k := guild + "/" + name
	id, ok := s.commandIDs[k]
	if !ok {
		id = s.Snowflake()
		s.commandIDs[k] = id
	}
	return id
}

func cloneCommands(cmds []*discordgo.ApplicationCommand) []*discordgo.ApplicationCommand {
	b, _ := json.Marshal(cmds)
	var out []*discordgo.ApplicationCommand
	json.Unmarshal(b, &out)
	return out
}

func checkName(path, name string, lower bool) error {
	if !commandName.MatchString(name) || lower && strings.ToLower(name) != name {
		return formError(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
	}
	return nil
}

func checkDescription(path, d string) error {
	if n := utf8.RuneCountInString(d); n < 1 || n > descriptionMax {
		return formError(path, "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", descriptionMax))
	}
	return nil
}

func checkLocalizations(path string, m map[discordgo.Locale]string, check func(string, string) error) error {
	for loc, v := range m {
		if !locales[string(loc)] {
			return formError(path+"."+string(loc), "LOCALE_INVALID", fmt.Sprintf("Invalid locale %q", loc))
		}
		if err := check(path+"."+string(loc), v); err != nil {
			return err
		}
	}
	return nil
}

func checkCommand(p string, c *discordgo.ApplicationCommand) error {
	chat := c.Type == discordgo.ChatApplicationCommand
	if chat {
		if err := checkName(p+".name", c.Name, true); err != nil {
			return err
		}
		if err := checkDescription(p+".description", c.Description); err != nil {
			return err
		}
	} else {
		if n := utf8.RuneCountInString(c.Name); n < 1 || n > 32 {
			return formError(p+".name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
		}
		if c.Description != "" {
			return formError(p+".description", "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED", "Only chat input commands can have a description")
		}
	}
	nameCheck := func(path, v string) error { return checkName(path, v, chat) }
	if c.NameLocalizations != nil {
		if err := checkLocalizations(p+".name_localizations", *c.NameLocalizations, nameCheck); err != nil {
			return err
		}
	}
	if c.DescriptionLocalizations != nil {
		if err := checkLocalizations(p+".description_localizations", *c.DescriptionLocalizations, checkDescription); err != nil {
			return err
		}
	}
	if !chat && len(c.Options) > 0 {
		return formError(p+".options", "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED", "Only chat input commands can have options")
	}
	total := utf8.RuneCountInString(c.Name) + utf8.RuneCountInString(c.Description)
	if err := checkOptions(p+".options", c.Options, &total, 0); err != nil {
		return err
	}
	if total > commandCharMax {
		return formError(p, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
	}
	return nil
}

func checkOptions(p string, opts []*discordgo.ApplicationCommandOption, total *int, depth int) error {
	if len(opts) > optionsMax {
		return formError(p, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", optionsMax))
	}
	names := map[string]bool{}
	optional := false
	for i, o := range opts {
		op := fmt.Sprintf("%s.%d", p, i)
		if o == nil {
			return formError(op, "BASE_TYPE_REQUIRED", "This field is required")
		}
		if o.Type < discordgo.ApplicationCommandOptionSubCommand || o.Type > discordgo.ApplicationCommandOptionAttachment {
			return formError(op+".type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.")
		}
		if err := checkName(op+".name", o.Name, true); err != nil {
			return err
		}
		if names[o.Name] {
			return formError(op+".name", "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS", "Option names must be unique")
		}
		names[o.Name] = true
		if err := checkDescription(op+".description", o.Description); err != nil {
			return err
		}
		if err := checkLocalizations(op+".name_localizations", o.NameLocalizations, func(path, v string) error { return checkName(path, v, true) }); err != nil {
			return err
		}
		if err := checkLocalizations(op+".description_localizations", o.DescriptionLocalizations, checkDescription); err != nil {
			return err
		}
		*total += utf8.RuneCountInString(o.Name) + utf8.RuneCountInString(o.Description)
		sub := o.Type == discordgo.ApplicationCommandOptionSubCommand || o.Type == discordgo.ApplicationCommandOptionSubCommandGroup
		if sub {
			if depth >= 2 || o.Type == discordgo.ApplicationCommandOptionSubCommandGroup && depth >= 1 {
				return formError(op+".type", "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-command nesting is too deep")
			}
			if err := checkOptions(op+".options", o.Options, total, depth+1); err != nil {
				return err
			}
			continue
		}
		if len(o.Options) > 0 {
			return formError(op+".options", "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED", "Only sub-commands can have options")
		}
		if o.Required && optional {
			return formError(op+".required", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options")
		}
		optional = optional || !o.Required
		if len(o.Choices) > choicesMax {
			return formError(op+".choices", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", choicesMax))
		}
		if len(o.Choices) > 0 && o.Autocomplete {
			return formError(op+".autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES", "Autocomplete cannot be set with choices")
		}
		for j, ch := range o.Choices {
			cp := fmt.Sprintf("%s.choices.%d", op, j)
			if ch == nil || utf8.RuneCountInString(ch.Name) < 1 || utf8.RuneCountInString(ch.Name) > 100 {
				return formError(cp+".name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
			}
			if err := checkLocalizations(cp+".name_localizations", ch.NameLocalizations, func(path, v string) error {
				if n := utf8.RuneCountInString(v); n < 1 || n > 100 {
					return formError(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
				}
				return nil
			}); err != nil {
				return err
			}
			switch o.Type {
			case discordgo.ApplicationCommandOptionString:
				v, ok := ch.Value.(string)
				if !ok || utf8.RuneCountInString(v) > 100 {
					return formError(cp+".value", "BASE_TYPE_STRING", "Must be a string of 100 or fewer characters.")
				}
				*total += utf8.RuneCountInString(v)
			case discordgo.ApplicationCommandOptionInteger, discordgo.ApplicationCommandOptionNumber:
				v, ok := ch.Value.(float64)
				if !ok || o.Type == discordgo.ApplicationCommandOptionInteger && v != float64(int64(v)) {
					return formError(cp+".value", "NUMBER_TYPE_COERCE", "Value is not a valid number.")
				}
			default:
				return formError(op+".choices", "APPLICATION_COMMAND_OPTION_CHOICES_NOT_ALLOWED", "Choices are only allowed for strings, integers and numbers")
			}
			*total += utf8.RuneCountInString(ch.Name)
		}
	}
	return nil
}
