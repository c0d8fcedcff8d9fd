#!/usr/bin/env bash
# Rebuilds the SentencePiece fixtures of inference/tokenize from the reference
# C++ implementation (Debian package "sentencepiece": spm_train, spm_encode).
#
#   scripts/spm-fixture.sh
#
# It writes a training corpus of video prompts to a temporary folder (English
# and Chinese prompts, fullwidth letters and digits, accented letters,
# ligatures, circled digits, odd whitespace, emoji: text that NFKC changes),
# trains two Unigram models with spm_train, and writes to
# inference/tokenize/testdata/:
#
#   spm_t5.model     T5's layout: model_type=unigram, the default nmt_nfkc
#                    normalization (so a real precompiled charsmap is
#                    embedded), pad_id=0 eos_id=1 unk_id=2 bos_id=-1, about
#                    1000 pieces, two user-defined symbols
#   spm_bytes.model  a small model with byte_fallback=true and identity
#                    normalization (an empty charsmap)
#   spm_lines.txt    the test lines, one per line (raw UTF-8, tabs kept)
#   spm_t5.ids       spm_encode --output_format=id of each line, per model
#   spm_bytes.ids
#
# and puts a small charsmap, compiled by spm_train from the rule table below
# (fullwidth ASCII letters and digits, a few spaces, U+FF0C, U+FB01 and the
# sequence e + U+0301), into the Precompiled normalizer of the hand-written
# unigram_t5.json and unigram_bytefallback.json. That step reads the model
# with the sentencepiece Python module of /usr/bin/python3 (Debian's
# python3-sentencepiece).
#
# Training is single-threaded with a fixed seed, so running the script again
# rewrites the same bytes. It changes nothing else; the Go tests read these
# files (TestSPMFixture*) and compare with the committed ids.
set -euo pipefail
cd "$(dirname "$0")/.."

py=/usr/bin/python3
$py -c 'import sentencepiece' 2>/dev/null || {
	echo "spm-fixture: /usr/bin/python3 lacks the sentencepiece module: install Debian's python3-sentencepiece" >&2
	exit 1
}
for tool in spm_train spm_encode; do
	command -v "$tool" >/dev/null || {
		echo "spm-fixture: $tool missing: install Debian's sentencepiece package (apt-get install sentencepiece)" >&2
		exit 1
	}
done

out=inference/tokenize/testdata
work=$(mktemp -d /tmp/spm-fixture-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C.UTF-8

# ---- corpus -------------------------------------------------------------
corpus=$work/corpus.txt
{
	subjects=("a cat" "a small dog" "a red fox" "an astronaut" "a girl in a yellow raincoat"
		"an old fisherman" "a giant panda" "two horses" "a robot" "a dancer" "the camera"
		"a paper boat" "a hummingbird" "a vintage car" "an elephant family")
	actions=("walks slowly" "runs across the field" "dances in the rain" "looks at the camera"
		"jumps over a fence" "turns around" "sleeps peacefully" "flies through the clouds"
		"swims under water" "waves hello")
	places=("on a beach at sunset" "in a snowy forest" "through a neon-lit city street"
		"inside a cozy kitchen" "on the surface of the moon" "in a field of sunflowers"
		"under a starry night sky" "beside a quiet lake" "in an ancient temple" "at the top of a mountain")
	shots=("slow zoom in" "the camera pans left" "wide shot" "close-up" "drone shot"
		"cinematic lighting" "4k, highly detailed" "soft focus, film grain")
	for s in "${subjects[@]}"; do
		for a in "${actions[@]}"; do
			i=0
			for p in "${places[@]}"; do
				i=$((i + 1))
				printf '%s %s %s, %s.\n' "$s" "$a" "$p" "${shots[$(((i + ${#s} + ${#a}) % ${#shots[@]}))]}"
			done
		done
	done

	zs=("一只猫" "一只小狗" "一只红狐狸" "宇航员" "穿黄色雨衣的女孩" "老渔夫" "大熊猫" "两匹马" "机器人" "舞者")
	za=("慢慢地走路" "在田野上奔跑" "在雨中跳舞" "看着镜头" "跳过篱笆" "转过身来" "安静地睡觉" "穿过云层飞行")
	zp=("在日落时的海滩上" "在下雪的森林里" "在霓虹灯闪烁的街道上" "在温暖的厨房里" "在月球表面" "在向日葵花田里" "在星空下" "在安静的湖边")
	zc=("镜头缓缓推近" "镜头向左平移" "远景" "特写" "航拍" "电影感光影" "高清，细节丰富")
	for s in "${zs[@]}"; do
		for a in "${za[@]}"; do
			i=0
			for p in "${zp[@]}"; do
				i=$((i + 1))
				printf '%s%s%s，%s。\n' "$s" "$p" "$a" "${zc[$((i % ${#zc[@]}))]}"
			done
		done
	done

	# More words, so that the vocabulary reaches about 1000 pieces.
	adjs=(golden misty quiet bright ancient gentle stormy frozen crowded empty colorful dusty
		peaceful dramatic mysterious playful shimmering rainy windy foggy glowing wooden)
	nouns=(bridge lantern harbor castle meadow waterfall canyon village garden library market
		railway lighthouse balloon umbrella bicycle festival orchard glacier volcano island desert)
	styles=(watercolor anime photorealistic "oil painting" "pixel art" "claymation" "black and white"
		"time-lapse" "slow motion" "handheld camera" "golden hour" "blue hour")
	for a in "${adjs[@]}"; do
		for n in "${nouns[@]}"; do
			printf 'a %s %s, %s style, the %s is %s.\n' "$a" "$n" "${styles[$(((${#a} * ${#n}) % ${#styles[@]}))]}" "$n" "$a"
		done
	done
	zn=(桥梁 灯笼 港口 城堡 草地 瀑布 峡谷 村庄 花园 图书馆 市场 铁路 灯塔 气球 雨伞 自行车 节日 果园 冰川 火山 岛屿 沙漠)
	verbs=(climbing painting reading singing cooking fishing skating drifting floating spinning
		sparkling melting blooming crashing whispering glittering marching wandering racing
		juggling knitting laughing sketching surfing hiking rowing)
	for v in "${verbs[@]}"; do
		for n in "${nouns[@]}"; do
			printf 'someone %s near the %s, %s and %s\n' "$v" "$n" "${adjs[$(((${#v} + ${#n}) % ${#adjs[@]}))]}" "${styles[$((${#v} % ${#styles[@]}))]}"
		done
	done
	zv=(攀登 绘画 阅读 唱歌 做饭 钓鱼 滑冰 漂流 旋转 融化 开花 奔跑 低语 行走 骑行 划船)
	for v in "${zv[@]}"; do
		for n in "${zn[@]:0:12}"; do
			printf '有人在%s旁边%s，电影镜头\n' "$n" "$v"
		done
	done
	zj=(金色的 朦胧的 安静的 明亮的 古老的 温柔的 暴风雨中的 冰冻的 拥挤的 空旷的 多彩的 神秘的)
	for a in "${zj[@]}"; do
		for n in "${zn[@]}"; do
			printf '%s%s，水彩风格，慢动作。\n' "$a" "$n"
		done
	done

	for n in 1 2 3 4 5 6 7 8; do
		cat <<'EOF'
ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ ａｎｄ ｄｉｇｉｔｓ：１２３４５６７８９０
（全角括号）和“引号”，还有！？
Café crème brûlée in Zürich, São Paulo and Kraków: naïve résumé.
ﬁsh ﬂower ﬀ ﬃ ﬄ oﬃce eﬀect ﬁnal
Steps ① ② ③ ④ ⑤ ⑥ ⑦ ⑧ ⑨ ⑩ then Ⅻ o'clock, 2² m², ½ cup, 5 ㎏, 30 ℃
ｶﾀｶﾅ half-width katakana and カタカナ full-width
A cat 🐱 and a dog 🐶 watch the sunset 🌅 🎬 ❤️ 👍🏽 👨‍👩‍👧
<cam> slow pan <sep> a cat walks <cam> zoom
EOF
		printf 'odd\xc2\xa0spaces\xe3\x80\x80here\xe2\x80\x83and\ttabs   and  runs\n'
		printf 'e\xcc\x81cole and \xef\xac\x81\xcc\x81 and n\xcc\x83 (combining marks)\n'
	done
} >"$corpus"

# ---- models -------------------------------------------------------------
# Relative names: the trainer spec inside the model records them.
common=(--input=corpus.txt --model_type=unigram --num_threads=1 --random_seed=1
	--input_sentence_size=0 --shuffle_input_sentence=false --minloglevel=2)
(cd "$work" && spm_train "${common[@]}" --model_prefix=spm_t5 --vocab_size=1000 --hard_vocab_limit=false \
	--pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --character_coverage=1.0 \
	--user_defined_symbols='<cam>,<sep>') 2>"$work/train1.log" || { cat "$work/train1.log" >&2; exit 1; }
(cd "$work" && spm_train "${common[@]}" --model_prefix=spm_bytes --vocab_size=400 --hard_vocab_limit=false \
	--pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --byte_fallback=true --character_coverage=0.98 \
	--normalization_rule_name=identity) 2>"$work/train2.log" || { cat "$work/train2.log" >&2; exit 1; }

# ---- test lines -----------------------------------------------------------
lines=$work/lines.txt
{
	cat <<'EOF'
a cat walks on a beach at sunset, slow zoom in.
A Cat Walks On A Beach
an astronaut dances in the rain
the camera pans left, wide shot
a zebra gallops past the lighthouse
xylophone quartz jukebox
一只猫在海边散步
一只小狗在下雪的森林里奔跑，特写。
宇航员在月球表面跳舞
龙在云中飞翔，镜头向右
猫 and dog 一起 play
ＦＵＬＬＷＩＤＴＨ ｃａｔ １２３
ａ　ｃａｔ　ｗａｌｋｓ
（全角）！？：；
Café naïve résumé Zürich
ÀÉÎÕÜ àéîõü ÇçÑñ
ﬁsh ﬂower oﬃce
① ② ③ ⑩ ⑳
Ⅻ ² ½ ㎏ ℃ ™ №
ｶﾀｶﾅ ﾊﾝｶｸ
🐱🐶 🌅 cat 🎬
❤️ 👍🏽 👨‍👩‍👧 🇯🇵
<cam> a cat <sep> walks
<cam>zoom<sep>
x<cam>y
Ｃａｆé ﬁ①
Привет мир
안녕하세요 세계
مرحبا بالعالم
नमस्ते दुनिया
ελληνικά
a
.
,,,,
1234567890
3.14159 and 2,718
EOF
	printf '\n'                                    # empty
	printf ' \n'                                   # one space
	printf '   \n'                                 # spaces only
	printf '\t\n'                                  # a tab
	printf '  leading spaces\n'
	printf 'trailing spaces   \n'
	printf 'many     inner      spaces\n'
	printf 'tabs\tbetween\t\twords\n'
	printf '\ta cat\t\n'
	printf 'nbsp\xc2\xa0between\xc2\xa0words\n'
	printf 'ideographic\xe3\x80\x80space\xe3\x80\x80\xe3\x80\x80twice\n'
	printf 'em\xe2\x80\x83space and thin\xe2\x80\x89space\n'
	printf 'zero\xe2\x80\x8bwidth\xe2\x80\x8cjoiners\xe2\x80\x8d\n'
	printf 'control\x01\x02chars\x7f here\n'
	printf 'carriage\rreturn\n'
	printf 'e\xcc\x81cole decomposed\n'
	printf '\xef\xac\x81\xcc\x81 ligature with accent\n'
	printf 'n\xcc\x83 a\xcc\x8a o\xcc\x88\xcc\x81\n'
	printf '\xe2\x96\x81 lower one eighth block\n'
	printf 'replacement \xef\xbf\xbd char\n'
	printf 'invalid \xff\xfe bytes \xc3 here\n'
	printf 'bom\xef\xbb\xbfinside\n'
	printf '\xe2\x80\xa8line\xe2\x80\xa9separators\n'
} >"$lines"

cp "$work/spm_t5.model" "$work/spm_bytes.model" "$out/"
cp "$lines" "$out/spm_lines.txt"
for m in spm_t5 spm_bytes; do
	spm_encode --model="$out/$m.model" --output_format=id <"$lines" >"$out/$m.ids"
done
[ "$(wc -l <"$out/spm_lines.txt")" = "$(wc -l <"$out/spm_t5.ids")" ] || { echo "spm-fixture: line counts differ" >&2; exit 1; }

# ---- small charsmap for the hand-written tokenizer.json fixtures ---------
{
	for i in $(seq 0 25); do
		printf '%X\t%X\n' $((0xFF21 + i)) $((0x41 + i)) $((0xFF41 + i)) $((0x61 + i))
	done
	for i in $(seq 0 9); do printf '%X\t%X\n' $((0xFF10 + i)) $((0x30 + i)); done
	printf '9\t20\nA\t20\nD\t20\nA0\t20\n3000\t20\nFF0C\t2C\nFB01\t66 69\n65 301\tE9\n'
} >"$work/rules.tsv"
printf 'a cat\n' >"$work/tiny.txt"
(cd "$work" && spm_train --input=tiny.txt --model_prefix=rules --model_type=unigram --vocab_size=8 \
	--hard_vocab_limit=false --num_threads=1 --minloglevel=2 --normalization_rule_tsv=rules.tsv) 2>"$work/train3.log" ||
	{ cat "$work/train3.log" >&2; exit 1; }
$py - "$work/rules.model" "$out/unigram_t5.json" "$out/unigram_bytefallback.json" <<'PY'
import base64, re, sys
from sentencepiece import sentencepiece_model_pb2 as pb
m = pb.ModelProto()
m.ParseFromString(open(sys.argv[1], "rb").read())
b64 = base64.b64encode(m.normalizer_spec.precompiled_charsmap).decode()
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    new, n = re.subn(r'("precompiled_charsmap": )"[^"]*"', lambda mo: mo.group(1) + '"' + b64 + '"', text)
    if n != 1:
        sys.exit("spm-fixture: %s: %d precompiled_charsmap fields" % (path, n))
    open(path, "w", encoding="utf-8").write(new)
PY
