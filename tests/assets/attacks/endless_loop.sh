# Attack: never finish, holding a CPU for as long as it is let.
echo "looping"
while :; do :; done
